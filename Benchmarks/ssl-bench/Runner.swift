// Running one workload: validate against the reference, warm up, then time `runs` calls.
import Foundation
import SSLCommandLine
import SSLCore

/// How a result compared with the reference backend's.
enum Check {
    /// max |ours − ref| / max |ref|.
    case maxRelativeError(Double)
    /// The reference would take too long at this size.
    case tooLarge
    /// The device is the reference backend itself.
    case isReference
}

/// The outcome of benchmarking one workload on one backend.
struct Measurement {
    let workload: Workload
    let variant: String
    let device: String
    let warmup: Int
    let runs: Int
    let timing: Clock
    /// Seconds, over the timed runs.
    let median: Double
    let min: Double
    let check: Check

    /// Which clock `median` and `min` come from.
    enum Clock: String {
        /// OpenCL profiling events: device time only.
        case events
        /// Host wall clock around the call and a synchronize.
        case wall
    }

    var gflops: Double { workload.flops / median / 1e9 }
    var gbps: Double { workload.bytes / median / 1e9 }
}

struct Runner {
    /// Above this many multiply-adds the reference backend, plain Swift loops, would take more
    /// than a few seconds, so larger workloads are timed unchecked.
    static let referenceWorkLimit = 2e8

    let backend: any Backend
    let warmup: Int
    let runs: Int

    /// - Parameter printsProfile: print to standard error, after timing, the device time of the
    ///   timed runs by command (OpenCL only).
    func measure(_ workload: Workload, printsProfile: Bool = false) throws -> Measurement {
        let host = workload.inputs()
        let call = try workload.bind(backend, host)
        // Validating first also pays one-time costs (kernel builds, CLBlast's compilation)
        // outside the timed runs.
        let check = try validate(workload, result: try values(of: try call(), on: backend), host: host)
        for _ in 0..<warmup { _ = try call() }
        try backend.synchronize()

        let stopwatch = Stopwatch(for: backend, wallClock: workload.wallClock)
        let context = printsProfile ? (backend as? OpenCLBackend)?.context : nil
        context?.beginProfile()
        let started = Date()
        let times = try (0..<runs).map { _ in try stopwatch.time { _ = try call() } }
        if let context {
            printError("profile of \(workload.op.rawValue) \(workload.shapeText), \(runs) runs:\n"
                       + (try context.endProfile().table(wallSeconds: Date().timeIntervalSince(started))))
        }
        return Measurement(workload: workload,
                           variant: (backend as? OpenCLBackend).map { workload.openCLVariant(on: $0) } ?? "reference",
                           device: backend.name, warmup: warmup, runs: runs, timing: stopwatch.clock,
                           median: median(times), min: times.min()!, check: check)
    }

    /// Every output is checked, each against the largest value of its own reference: a loss,
    /// its gradients and its extras live on different scales.
    private func validate(_ workload: Workload, result: [[Float]], host: [HostInput]) throws -> Check {
        // A benchmark of wrong numbers is meaningless, and NaN has no place in the JSON.
        guard result.allSatisfy({ $0.allSatisfy { $0.isFinite } }) else {
            throw BenchError.nonFinite(workload: "\(workload.op.rawValue) \(workload.shapeText)", device: backend.name)
        }
        if backend.kind == .reference { return .isReference }
        guard workload.referenceWork <= Self.referenceWorkLimit else { return .tooLarge }
        let reference = ReferenceBackend()
        let expected = try values(of: try workload.bind(reference, host)(), on: reference)
        return .maxRelativeError(zip(result, expected).map { maxRelativeError($0, $1) }.max() ?? 0)
    }

    private func values(of output: Output, on backend: any Backend) throws -> [[Float]] {
        switch output {
        case .tensors(let tensors): return try tensors.map { try backend.download($0) }
        case .host(let values): return values
        }
    }
}

/// The middle value; the mean of the two middle ones for an even count.
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted(), middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// max |a − b| / max |b|: relative to the largest reference value, so that entries near zero
/// do not blow up the error. Falls back to the absolute error when the reference is all zeros.
func maxRelativeError(_ a: [Float], _ b: [Float]) -> Double {
    var maxDifference = 0.0, maxReference = 0.0
    for (x, y) in zip(a, b) {
        maxDifference = max(maxDifference, abs(Double(x) - Double(y)))
        maxReference = max(maxReference, abs(Double(y)))
    }
    return maxReference > 0 ? maxDifference / maxReference : maxDifference
}

enum BenchError: Error, CustomStringConvertible {
    case nonFinite(workload: String, device: String)

    var description: String {
        switch self {
        case let .nonFinite(workload, device): return "\(workload) on \(device) produced NaN or Inf"
        }
    }
}
