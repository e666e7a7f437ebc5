// `ssl tune`: CLBlast's SGEMM parameters searched on one device and written as a Tuning/*.json file.
import ArgumentParser
import Foundation
import SSLCommandLine
import SSLCore

struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Search CLBlast's GEMM parameters and time the ops' fused and unfused forms on this device; write a tuning file.",
        discussion: """
            Random, then greedy, candidates from CLBlast's own tuner search spaces (Xgemm kernels \
            0 and 1, XgemmDirect), each checked against the result of the parameters in use and \
            timed by profiling events, within --budget seconds; then the size from which the \
            indirect kernel beats the direct one. Then every form of NT-Xent (fused, GEMM), Barlow \
            Twins (Gram, feature), Sinkhorn (one group, one and two passes) and kNN (fused, GEMM + \
            top-k) at training's sizes: the fastest becomes the device's automatic choice. \
            The file (default Tuning/<device>--<driver>.json) \
            is applied at start-up when SSL_GEMM_TUNING names it, or for every build once it is \
            embedded: add .embedInCode("<file>") to the Tuning target in Package.swift and a line \
            to Tuning/TuningFiles.swift.
            """)

    @OptionGroup var device: DeviceOptions

    @Option(help: "Seconds for the whole search.")
    var budget: Double = 60

    @Option(help: "M = N = K at which Xgemm (the kernel of large GEMMs) is timed.")
    var size = 2048

    @Option(help: "M = N = K at which XgemmDirect (the kernel of small GEMMs) is timed.")
    var directSize = 256

    @Option(help: "At most this many candidates per kernel.")
    var candidates: Int?

    @Option(help: "Seed of the random candidates.")
    var seed: UInt64 = 1

    @Option(help: ArgumentHelp("Kernels to tune, comma-separated: \(GemmTuner.Kernel.allCases.map(\.rawValue).joined(separator: ", ")).",
                               valueName: "LIST"))
    var kernels = GemmTuner.Kernel.allCases.map(\.rawValue).joined(separator: ",")

    @Option(help: "Timed runs per candidate.")
    var runs = 3

    @Flag(inversion: .prefixedNo, help: "Search CLBlast's GEMM parameters (--no-gemm keeps those in use).")
    var gemm = true

    @Flag(inversion: .prefixedNo, help: "Time the ops' fused and unfused forms (--no-paths keeps the file's choices).")
    var paths = true

    @Option(help: "Where to write the file; default Tuning/<device>--<driver>.json (Tuning/ when it exists, else here).")
    var out: String?

    func validate() throws {
        guard budget > 0 else { throw ValidationError("--budget must be positive, got \(budget)") }
        guard size >= 16, directSize >= 16 else { throw ValidationError("--size and --direct-size must be at least 16") }
        // A, B, C and the reference C of the timed GEMM, on the host and the device.
        try HostMemory.require([max(size, directSize), max(size, directSize), 4], what: "--size \(max(size, directSize))'s four matrices")
        if let candidates, candidates < 1 { throw ValidationError("--candidates must be at least 1, got \(candidates)") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1, got \(runs)") }
        _ = try kernelSet()
        guard gemm || paths else { throw ValidationError("--no-gemm and --no-paths leave nothing to tune") }
    }

    private func kernelSet() throws -> Set<GemmTuner.Kernel> {
        let names = kernels.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return Set(try names.map { name in
            guard let kernel = GemmTuner.Kernel(rawValue: name) else {
                throw ValidationError("--kernels: '\(name)' is not one of \(GemmTuner.Kernel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return kernel
        })
    }

    func run() throws {
        guard let backend = try device.backend() as? OpenCLBackend else {
            throw ValidationError("ssl tune tunes CLBlast on an OpenCL device; the reference backend has no GEMM parameters")
        }
        var options = GemmTuner.Options()
        options.size = size
        options.directSize = directSize
        options.budgetSeconds = budget
        options.maxCandidates = candidates ?? Int.max
        options.seed = seed
        options.kernels = gemm ? try kernelSet() : []
        options.runs = runs
        let command = (["ssl"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        var tuning = try GemmTuner(backend: backend, options: options).run(command: command) { printError($0) }
        if paths {
            // Timed with the GEMM parameters just found, as training will run.
            try GemmTunings.apply(tuning, source: "this search", to: backend.device)
            tuning.paths = try PathTuner(backend: backend).run { printError($0) }
        }
        let name = GemmTuning.fileName(device: tuning.device, driver: tuning.driver)
        let path = out ?? (FileManager.default.fileExists(atPath: "Tuning") ? "Tuning/" + name : name)
        try AtomicFile.write(try tuning.encoded(), to: URL(fileURLWithPath: path))
        print(path)
        for (kernel, parameters) in tuning.kernels.sorted(by: { $0.key < $1.key }) {
            print("  \(kernel): \(GemmTunings.describe(parameters))")
        }
        if let chosen = tuning.paths { print("  paths: \(chosen.summary)") }
    }
}
