// `ssl-bench`: times GEMM, the Barlow Twins cross-correlation and SwAV's Sinkhorn on one device.
import ArgumentParser
import SSLCommandLine
import SSLCore

@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ssl-bench",
        abstract: "Benchmark GEMM, cross-correlation and Sinkhorn on one device.",
        discussion: """
            Each workload is first checked against the reference backend (when that takes a few \
            seconds at most), then warmed up, then timed: device time from OpenCL profiling \
            events, or wall-clock time on the reference backend. The table or JSON lines give the \
            median and minimum of the timed runs, GFLOP/s and GB/s at the median (counted as \
            Workloads.swift documents) and the max relative error against the reference.

            Without --op, the ops given sizes are run, else all three. The default sizes are \
            GPU-sized (4096³ GEMM, 2048x8192 cross-correlation, 4096x3000 Sinkhorn): on a CPU \
            device or the reference backend use --quick or smaller sizes.
            """)

    @OptionGroup var device: DeviceOptions

    @Option(name: .customLong("op"), help: "An op to run: gemm, xcorr or sinkhorn; repeatable.")
    var ops: [Op] = []

    @Option(help: ArgumentHelp("A GEMM size, C(M,N) = A(M,K)·B(K,N); a single N means NxNxN; repeatable.",
                               valueName: "MxNxK"))
    var gemm: [String] = []

    @Option(help: ArgumentHelp("A cross-correlation size: N samples of D features; repeatable.", valueName: "NxD"))
    var xcorr: [String] = []

    @Option(help: ArgumentHelp("A Sinkhorn size: B samples, K prototypes; repeatable.", valueName: "BxK"))
    var sinkhorn: [String] = []

    @Option(help: "Sinkhorn's entropic regularisation ε.")
    var epsilon: Float = 0.05

    @Option(help: "Sinkhorn iterations.")
    var sinkhornIterations = 3

    @Option(help: "Untimed runs before timing (default 2; 1 with --quick).")
    var warmup: Int?

    @Option(help: "Timed runs (default 10; 3 with --quick).")
    var runs: Int?

    @Flag(help: "Write one JSON object per line instead of the table.")
    var json = false

    @Flag(help: "CI-sized defaults: small sizes, 1 warm-up, 3 runs; seconds on a CPU OpenCL device.")
    var quick = false

    func validate() throws {
        guard epsilon > 0, epsilon.isFinite else { throw ValidationError("--epsilon must be positive, got \(epsilon)") }
        guard sinkhornIterations >= 1 else {
            throw ValidationError("--sinkhorn-iterations must be at least 1, got \(sinkhornIterations)")
        }
        if let warmup, warmup < 0 { throw ValidationError("--warmup must not be negative, got \(warmup)") }
        if let runs, runs < 1 { throw ValidationError("--runs must be at least 1, got \(runs)") }
        _ = try workloads()
    }

    func run() throws {
        let plan = try workloads()
        let backend = try device.backend()
        let runner = Runner(backend: backend, warmup: warmup ?? (quick ? 1 : 2), runs: runs ?? (quick ? 3 : 10))
        let report: any Report = json ? JSONLinesReport() : TableReport(workloads: plan, backend: backend)
        report.begin()
        for workload in plan {
            report.write(try runner.measure(workload))
        }
    }

    /// Every (op, size) to run, in the order of the ops and then of the sizes given.
    func workloads() throws -> [Workload] {
        try selectedOps().flatMap { op -> [Workload] in
            let given = sizeTexts(for: op)
            let sizes = given.isEmpty
                ? Sizes.defaults(for: op, quick: quick)
                : try given.map { try Sizes.parse($0, for: op, rank: op == .gemm ? 3 : 2, cube: op == .gemm) }
            return sizes.map { s in
                switch op {
                case .gemm: return .gemm(m: s[0], n: s[1], k: s[2])
                case .xcorr: return .crossCorrelation(n: s[0], d: s[1])
                case .sinkhorn: return .sinkhorn(b: s[0], k: s[1], epsilon: epsilon, iterations: sinkhornIterations)
                }
            }
        }
    }

    /// The --op values without repeats; without --op, the ops given sizes, else all.
    private func selectedOps() throws -> [Op] {
        guard !ops.isEmpty else {
            let sized = Op.allCases.filter { !sizeTexts(for: $0).isEmpty }
            return sized.isEmpty ? Op.allCases : sized
        }
        var selected: [Op] = []
        for op in ops where !selected.contains(op) { selected.append(op) }
        // Sizes for an op that will not run are most likely a mistake on the command line.
        if let unused = Op.allCases.first(where: { !selected.contains($0) && !sizeTexts(for: $0).isEmpty }) {
            throw ValidationError("\(unused.sizeOption.name) was given but --op does not select \(unused.rawValue)")
        }
        return selected
    }

    private func sizeTexts(for op: Op) -> [String] {
        switch op {
        case .gemm: return gemm
        case .xcorr: return xcorr
        case .sinkhorn: return sinkhorn
        }
    }
}
