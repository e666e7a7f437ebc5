// Training progress: a redrawn bar on a terminal, plain log lines otherwise.
import Foundation

/// Reports progress on standard error: a single redrawn line when it is a terminal, one plain
/// line every `logEvery` steps (and at each epoch's end) when it is a file or a pipe.
public final class ProgressReporter {
    public let isTerminal: Bool
    private let logEvery: Int
    private let start = Date()
    private var lastDraw = Date.distantPast

    /// Prints nothing; ``onStep`` still runs.
    public let isSilent: Bool
    /// Called after every optimizer step with its global step number, once its loss is on the
    /// host (a benchmark timing steps, a user's own logging).
    public var onStep: ((_ globalStep: Int) -> Void)?

    public init(logEvery: Int = 50, forceTerminal: Bool? = nil, silent: Bool = false) {
        self.isTerminal = forceTerminal ?? (isatty(STDERR_FILENO) == 1)
        self.logEvery = max(logEvery, 1)
        self.isSilent = silent
    }

    /// One optimizer step done. `imagesPerSecond` is measured by the caller over its own window.
    public func step(epoch: Int, epochs: Int, step: Int, stepsPerEpoch: Int, globalStep: Int, totalSteps: Int,
                     loss: Double, imagesPerSecond: Double, extra: String = "") {
        onStep?(globalStep)
        guard !isSilent else { return }
        let elapsed = Date().timeIntervalSince(start)
        let eta = globalStep > 0 ? elapsed / Double(globalStep) * Double(max(totalSteps - globalStep, 0)) : 0
        let numbers = String(format: "loss %.4f  %.0f img/s  ETA %@", loss, imagesPerSecond, Self.duration(eta))
            + (extra.isEmpty ? "" : "  " + extra)
        if isTerminal {
            // Redraw at most 10 times a second: terminals are slow and steps can be fast.
            guard Date().timeIntervalSince(lastDraw) > 0.1 || step == stepsPerEpoch else { return }
            lastDraw = Date()
            let width = 24, filled = stepsPerEpoch > 0 ? width * step / stepsPerEpoch : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            write("\r\u{1B}[2Kepoch \(epoch)/\(epochs) \(bar) \(step)/\(stepsPerEpoch)  \(numbers)")
            if step == stepsPerEpoch { write("\n") }
        } else if globalStep % logEvery == 0 || step == stepsPerEpoch {
            write("epoch \(epoch)/\(epochs) step \(step)/\(stepsPerEpoch) (global \(globalStep)/\(totalSteps))  \(numbers)\n")
        }
    }

    /// A line of its own (evaluation results, checkpoints), ending any bar on screen.
    public func note(_ message: String) {
        guard !isSilent else { return }
        write((isTerminal ? "\r\u{1B}[2K" : "") + message + "\n")
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s / 60 % 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
