// `ssl-bench`: times GEMM, the Barlow Twins cross-correlation, SwAV's Sinkhorn, three objectives
// forward and backward and the kNN evaluation on one device, alone or against a peer's results.
import ArgumentParser
import SSLCommandLine
import SSLCore
import SSLTrain

@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ssl-bench",
        abstract: "Benchmark the library's kernels and objectives on one device, or compare them with a peer.",
        discussion: """
            Each workload is first checked against the reference backend (when that takes a few \
            seconds at most), then warmed up, then timed: device time from OpenCL profiling \
            events (kNN: the wall clock around the whole classify call), or wall-clock time on \
            the reference backend. The table or JSON lines give the median and minimum of the \
            timed runs, GFLOP/s and GB/s at the median (counted as Workloads.swift documents) \
            and the max relative error against the reference.

            Ops: gemm, xcorr (Barlow Twins' cross-correlation), sinkhorn (SwAV, 3 iterations), \
            barlow, vicreg and ntxent (loss and gradients), knn (KNNClassifier, 10 classes). \
            --redundancy-form and --ntxent-algorithm time the objectives' variants (each one a \
            row with its own "variant"); by default each runs in the form the library picks. \
            Without --op, the ops given sizes are run, else all. The default sizes are the \
            GPU sizes of the kernel-performance issue: on a CPU device or the reference backend \
            use --quick or smaller sizes.

            --compare reads JSON lines in this tool's --json schema (Benchmarks/peers/*.py \
            write them), runs this tool's workloads at the (op, shape) rows they hold, and prints \
            one table: our median, each peer variant's median, and ours/peer.
            """)

    /// `--runs -1` reaches the option's own check instead of "Missing value" (NegativeValues).
    static func main() {
        main(NegativeValues.joined(Array(CommandLine.arguments.dropFirst())))
    }

    @OptionGroup var device: DeviceOptions

    @Option(name: .customLong("op"), help: "An op to run; repeatable.")
    var ops: [Op] = []

    @Option(help: ArgumentHelp("A GEMM size, C(M,N) = A(M,K)·B(K,N); a single N means NxNxN; repeatable.",
                               valueName: "MxNxK"))
    var gemm: [String] = []

    @Option(help: ArgumentHelp("A cross-correlation size: N samples of D features; repeatable.", valueName: "NxD"))
    var xcorr: [String] = []

    @Option(help: ArgumentHelp("A Sinkhorn size: B samples, K prototypes; repeatable.", valueName: "BxK"))
    var sinkhorn: [String] = []

    @Option(help: ArgumentHelp("A Barlow Twins size: two views of N samples, D features; repeatable.", valueName: "NxD"))
    var barlow: [String] = []

    @Option(help: ArgumentHelp("A VICReg size: two views of N samples, D features; repeatable.", valueName: "NxD"))
    var vicreg: [String] = []

    @Option(help: ArgumentHelp("An NT-Xent size: two views of N samples, D features; repeatable.", valueName: "NxD"))
    var ntxent: [String] = []

    @Option(help: ArgumentHelp("A kNN size: N train and M test samples of D features, K neighbours (default 20); repeatable.",
                               valueName: "NxMxD[xK]"))
    var knn: [String] = []

    @Option(name: .customLong("redundancy-form"),
            help: ArgumentHelp("barlow and vicreg through the N×N Gram matrices (gram), the D×D matrices (feature), or auto (gram when N < D); repeatable, to time several.",
                               valueName: "auto|gram|feature"))
    var redundancyForms: [RedundancyForm] = []

    @Option(name: .customLong("ntxent-algorithm"),
            help: ArgumentHelp("ntxent fused (no 2N×2N logits in device memory), through CLBlast GEMMs (gemm), or auto; repeatable, to time several.",
                               valueName: "auto|fused|gemm"))
    var ntxentAlgorithms: [NTXentAlgorithm] = []

    @Option(help: "Sinkhorn's entropic regularisation ε.")
    var epsilon: Float = 0.05

    @Option(help: "Sinkhorn iterations.")
    var sinkhornIterations = 3

    @Option(help: "Untimed runs before timing (default 2; 1 with --quick).")
    var warmup: Int?

    @Option(help: "Timed runs (default 10; 3 with --quick).")
    var runs: Int?

    @Flag(help: "Every GEMM on TF32 tensor cores (NVIDIA only; as SSL_GEMM=tf32): ~1e-3 relative error.")
    var tf32 = false

    @Flag(help: "Write one JSON object per line instead of the table.")
    var json = false

    @Flag(help: "After each row, where the timed runs spent the device's time: per kernel, GEMM, transfers, idle share (OpenCL).")
    var profile = false

    @Flag(help: "CI-sized defaults: small sizes, 1 warm-up, 3 runs; seconds on a CPU OpenCL device.")
    var quick = false

    @Flag(help: "Print the planned workloads (op, shape, flops, bytes, the shape checked against the reference) as JSON lines and exit.")
    var dryRun = false

    @Flag(help: "Check every workload against the reference (a smaller twin for the large ones) and time nothing; non-zero exit on the first wrong one.")
    var checkOnly = false

    @Option(help: ArgumentHelp("The largest max relative error a variant may have (default 1e-4; 5e-3 with --tf32); tests set it to 0 to break a variant.",
                               valueName: "X"))
    var tolerance: Double?

    @Option(name: .customLong("compare"), parsing: .upToNextOption,
            help: ArgumentHelp("JSON lines of a peer (or several files): run our workloads at their (op, shape) rows and print one comparison table.",
                               valueName: "FILE"))
    var compareFiles: [String] = []

    @Option(name: .customLong("train"),
            help: ArgumentHelp("Time whole training steps of this method (its --preset cpu recipe) in images/s; repeatable.",
                               valueName: "METHOD"))
    var trainMethods: [Method] = []

    @Option(name: .customLong("train-size"),
            help: ArgumentHelp("With --train: batch, then the MLP encoder's widths (default 256x512x256).", valueName: "BxW1xW2…"))
    var trainSize: String?

    @Option(name: .customLong("train-encoder"),
            help: ArgumentHelp("With --train: mlp (default) or convnet, whose widths --train-size gives (block channels, then the dense width; default 16x32x512).",
                               valueName: "KIND"))
    var trainEncoder: String?

    @Option(name: .customLong("train-projector"),
            help: ArgumentHelp("With --train: the projector's widths instead of the recipe's (as many as the recipe has).",
                               valueName: "W1,W2…"))
    var trainProjector: String?

    @Option(name: .customLong("ours"),
            help: ArgumentHelp("With --compare: take our medians from this file of ssl-bench --json lines instead of running (e.g. lines written on a GPU machine).",
                               valueName: "FILE"))
    var oursFile: String?

    func validate() throws {
        if !trainMethods.isEmpty || trainSize != nil || trainProjector != nil || trainEncoder != nil {
            guard !trainMethods.isEmpty else { throw ValidationError("--train-size, --train-encoder and --train-projector apply with --train") }
            if !ops.isEmpty || Op.allCases.contains(where: { !sizeTexts(for: $0).isEmpty }) {
                throw ValidationError("--train times training steps; it does not combine with --op or op sizes")
            }
            if oursFile != nil || dryRun || tf32 { throw ValidationError("--train does not combine with --ours, --dry-run or --tf32") }
            for method in trainMethods { _ = try TrainBenchmark.parse(method: method, encoder: trainEncoder ?? "mlp", size: trainSize, projector: trainProjector) }
            if let warmup, warmup < 0 { throw ValidationError("--warmup must not be negative, got \(warmup)") }
            if let runs, runs < 2 { throw ValidationError("--runs must be at least 2 with --train, got \(runs)") }
            return
        }
        guard epsilon > 0, epsilon.isFinite else { throw ValidationError("--epsilon must be positive, got \(epsilon)") }
        guard sinkhornIterations >= 1 else {
            throw ValidationError("--sinkhorn-iterations must be at least 1, got \(sinkhornIterations)")
        }
        if let warmup, warmup < 0 { throw ValidationError("--warmup must not be negative, got \(warmup)") }
        if let runs, runs < 1 { throw ValidationError("--runs must be at least 1, got \(runs)") }
        if let tolerance, !(tolerance >= 0) { throw ValidationError("--tolerance must be zero or positive, got \(tolerance)") }
        if oursFile != nil && compareFiles.isEmpty { throw ValidationError("--ours only applies with --compare") }
        if !compareFiles.isEmpty {
            if let sized = Op.allCases.first(where: { !sizeTexts(for: $0).isEmpty }) {
                throw ValidationError("\(sized.sizeOption.name) cannot be combined with --compare, which takes its sizes from the files")
            }
            if json { throw ValidationError("--compare prints a table; --json does not apply") }
            return
        }
        _ = try workloads(maxAllocationBytes: .max)
    }

    func run() throws {
        if !trainMethods.isEmpty { return try runTraining() }
        if !compareFiles.isEmpty { return try runComparison() }
        // A dry run opens no device, so it plans `auto` variants as a device without buffer limits resolves them.
        if dryRun { return try workloads(maxAllocationBytes: .max).forEach(printPlan) }
        let backend = try makeBackend()
        let plan = try workloads(maxAllocationBytes: largestBuffer(of: backend), paths: (backend as? OpenCLBackend)?.paths)
        // Inputs and outputs live on the host too (inputs are made there, results read back).
        for workload in plan {
            try HostMemory.require([Int(clamping: UInt64(min(workload.bytes, 9e18)))], bytesPerValue: 1,
                                   what: "\(workload.op.rawValue) \(workload.shapeText)'s inputs and outputs")
        }
        let runner = makeRunner(backend)
        let tolerance = runner.tolerance(override: self.tolerance)
        if checkOnly {
            for workload in plan {
                let check = try runner.check(workload, tolerance: tolerance)
                let variant = (backend as? OpenCLBackend).map { workload.openCLVariant(on: $0) } ?? "reference"
                print("ok  \(workload.op.rawValue) \(variant) \(workload.shapeText): "
                      + (check.error.map { String(format: "%.2e", $0) } ?? "reference") + " ≤ \(tolerance)")
            }
            return
        }
        let report: any Report = json ? JSONLinesReport() : TableReport(workloads: plan, backend: backend)
        report.begin()
        // A wrong variant gets no row; the others still run, and the exit status says it.
        var wrong: [BenchError] = []
        for workload in plan {
            do {
                report.write(try runner.measure(workload, tolerance: tolerance, printsProfile: profile))
            } catch let error as BenchError {
                printError("ssl-bench: \(error)")
                wrong.append(error)
            }
        }
        if !wrong.isEmpty {
            printError("ssl-bench: \(wrong.count) of \(plan.count) workloads gave wrong results and were not timed")
            throw ExitCode.failure
        }
    }

    /// `--compare`: our measurement of every (op, shape) the files hold, beside theirs.
    private func runComparison() throws {
        let results = try PeerResults(reading: compareFiles)
        let rows = try results.shapes(ops: ops)
        guard !rows.isEmpty else { throw ValidationError("no row of \(compareFiles.joined(separator: ", ")) is an op to run") }
        // Our rows in the variants the library picks: on this run's device, or, with nothing run
        // here (--dry-run, --ours), as on a device without buffer limits.
        let backend = dryRun || oursFile != nil ? nil : try makeBackend()
        let plan = rows.map { row in
            Workload.make(row.op, shape: row.shape, epsilon: epsilon, iterations: sinkhornIterations,
                          maxAllocationBytes: backend.map(largestBuffer) ?? .max, paths: (backend as? OpenCLBackend)?.paths)
        }
        if dryRun { return plan.forEach(printPlan) }
        if let oursFile {
            // Our rows as measured elsewhere: nothing runs here.
            let ours = try PeerResults(reading: [oursFile])
            var devices: [String] = []
            for peer in ours.peers where !devices.contains(peer.device) { devices.append(peer.device) }
            let table = ComparisonTable(workloads: plan, peers: results, ours: "\(devices.joined(separator: "; ")) (\(oursFile))")
            table.begin()
            for workload in plan {
                table.write(workload, ours: ours.rows.first { $0.op == workload.op.rawValue && $0.shape == workload.shape }?.median_ms)
            }
            return
        }
        guard let backend else { preconditionFailure("a device is opened unless --dry-run or --ours") }
        let runner = makeRunner(backend)
        let table = ComparisonTable(workloads: plan, peers: results,
                                    ours: (backend as? OpenCLBackend)?.device.name ?? backend.kind.rawValue)
        table.begin()
        for workload in plan {
            table.write(workload, ours: try runner.measure(workload, tolerance: runner.tolerance(override: tolerance)).median * 1e3)
        }
    }

    /// `--train`: whole training steps of each method, alone or against the peers' rows of the
    /// same methods (with `--compare`, the sizes come from the files).
    private func runTraining() throws {
        let backend = try makeBackend()
        let runner = TrainRunner(backend: backend, warmup: warmup ?? (quick ? 2 : 5), steps: runs ?? (quick ? 5 : 30),
                                 printsProfile: profile)
        printError("train: \(runner.warmup) untimed steps, then \(runner.steps) timed; synthetic 1×28×28 images")
        if !compareFiles.isEmpty {
            let peers = try PeerResults(reading: compareFiles)
            let wanted = Set(trainMethods.map(\.rawValue))
            return try TrainComparison(peers: PeerResults(rows: peers.rows.filter { $0.op == "train" && wanted.contains($0.variant) }))
                .run(runner)
        }
        let report = TrainReport(json: json)
        report.begin()
        for method in trainMethods {
            report.write(try runner.measure(try TrainBenchmark.parse(method: method, encoder: trainEncoder ?? "mlp", size: trainSize, projector: trainProjector)))
        }
    }

    /// The --device backend, switched to the TF32 GEMM by --tf32 (an error off NVIDIA). The kernel
    /// versions of SSL_SINKHORN, SSL_KNN and SSL_GEMM apply as in every command.
    /// The largest buffer `backend` allows, which decides NT-Xent's `auto` (no limit off OpenCL).
    private func largestBuffer(of backend: any Backend) -> Int {
        (backend as? OpenCLBackend)?.device.maxAllocationBytes ?? .max
    }

    private func makeBackend() throws -> any Backend {
        let backend = try device.backend()
        guard tf32 else { return backend }
        guard let openCL = backend as? OpenCLBackend else { throw ValidationError("--tf32 needs an OpenCL device") }
        var kernels = openCL.kernels
        kernels.gemm = .tf32
        try kernels.check(on: openCL.device)
        let tf32 = OpenCLBackend(context: openCL.context, kernels: kernels)
        printError("gemm: \(tf32.gemmDescription)")
        return tf32
    }

    private func makeRunner(_ backend: any Backend) -> Runner {
        Runner(backend: backend, warmup: warmup ?? (quick ? 1 : 2), runs: runs ?? (quick ? 3 : 10))
    }

    private func printPlan(_ w: Workload) {
        let fields: [(String, JSON)] = [
            ("op", .string(w.op.rawValue)), ("variant", .string(w.variant)), ("shape", .integers(w.shape)),
            ("flops", .number(w.flops)),
            ("bytes", .number(w.bytes)),
            ("checked_shape", .integers(w.checkedAt?().shape ?? w.shape)),
            ("timing", .string(w.wallClock ? "wall" : "events")),
        ]
        print("{" + fields.map { "\(JSON.quote($0.0)):\($0.1.text)" }.joined(separator: ",") + "}")
    }

    /// Every (op, size, variant) to run, in the order of the ops, then of the sizes given, then of
    /// the variants asked for (a variant that `auto` resolves to twice runs once); `auto` as the
    /// library resolves it on a device whose largest buffer is `maxAllocationBytes` and whose
    /// tuning file measured `paths`.
    func workloads(maxAllocationBytes: Int, paths: TunedPaths? = nil) throws -> [Workload] {
        try selectedOps().flatMap { op -> [Workload] in
            let given = sizeTexts(for: op)
            let sizes = given.isEmpty ? Sizes.defaults(for: op, quick: quick) : try given.map { try Sizes.parse($0, for: op) }
            return sizes.flatMap { shape -> [Workload] in
                var variants: [Workload] = []
                for form in redundancyForms.isEmpty ? [.automatic] : redundancyForms {
                    for algorithm in ntxentAlgorithms.isEmpty ? [.automatic] : ntxentAlgorithms {
                        let w = Workload.make(op, shape: shape, epsilon: epsilon, iterations: sinkhornIterations,
                                              form: form, algorithm: algorithm, maxAllocationBytes: maxAllocationBytes,
                                              paths: paths)
                        if !variants.contains(where: { $0.variant == w.variant }) { variants.append(w) }
                    }
                }
                return variants
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
        case .barlow: return barlow
        case .vicreg: return vicreg
        case .ntxent: return ntxent
        case .knn: return knn
        }
    }
}
