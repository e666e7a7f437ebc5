// `ssl tune`: a time-boxed random, then greedy, search over CLBlast's own GEMM search spaces on
// one device, each candidate's C checked against the parameters in use before it is timed.
import Foundation

/// Searches CLBlast's SGEMM parameters for the device of `backend` and returns them as a
/// ``GemmTuning`` (a `Tuning/*.json` file).
///
/// Per kernel: first uniformly drawn candidates of CLBlast's tuner space (`GemmSearchSpace`),
/// then single-step neighbours of the best so far, until its share of the time budget or the
/// candidate limit is spent. Each candidate is applied with `CLBlastOverrideParameters`, run once
/// (CLBlast compiles it; a build or launch failure only drops the candidate), its C compared with
/// the C of the parameters in use before (max |Δ| / max |C| ≤ 1e-4: a float32 GEMM summed in
/// another order differs by ~√K·2⁻²⁴ relative, a wrong kernel by O(1)), then timed by profiling
/// events (median of `runs`). The parameters in use before are themselves checked on sampled
/// entries against a Double dot product. Xgemm (the indirect kernel of large GEMMs) is timed at
/// `size`³ with the routine forced to it, XgemmDirect at `directSize`³ likewise; then
/// `XGEMM_MIN_INDIRECT_SIZE` becomes the smallest measured size at which the tuned indirect
/// kernel beats the tuned direct one at it and at every larger measured size. Kernels not searched
/// keep the parameters of the tuning file applied to the device, if any.
public struct GemmTuner {
    /// What `ssl tune --kernels` names.
    public enum Kernel: String, CaseIterable, Sendable {
        case xgemm
        case direct = "xgemm-direct"
        case routine
    }

    public struct Options: Sendable {
        /// M = N = K of the Xgemm search.
        public var size = 2048
        /// M = N = K of the XgemmDirect search.
        public var directSize = 256
        /// Seconds for the whole search; Xgemm gets 60 %, XgemmDirect 30 %, the crossover the rest.
        public var budgetSeconds = 60.0
        /// At most this many candidates per kernel (besides the parameters in use).
        public var maxCandidates = Int.max
        public var seed: UInt64 = 1
        public var kernels = Set(Kernel.allCases)
        /// Timed runs per candidate, after one untimed run.
        public var runs = 3

        public init() {}
    }

    public let backend: OpenCLBackend
    public let options: Options

    public init(backend: OpenCLBackend, options: Options) {
        self.backend = backend
        self.options = options
    }

    /// `XGEMM_MIN_INDIRECT_SIZE` values that force the routine's choice: m·n·k < size³ picks direct.
    static let alwaysIndirect = 0, alwaysDirect = 1 << 20

    /// Runs the search.
    /// - Parameters:
    ///   - command: recorded in the file, e.g. "ssl tune --budget 90".
    ///   - log: receives one line per candidate.
    public func run(command: String, log: (String) -> Void) throws -> GemmTuning {
        let device = backend.device
        let start = Date()
        // Kernels not searched now keep the applied file's parameters, so a search can be redone
        // one kernel at a time (SSL_GEMM_TUNING=file ssl tune --kernels routine).
        // A file of another CPU (GemmTunings.selection) lends its parameters, not its history.
        let selection = backend.context.gemmTuning
        let applied = selection?.tuning, own = selection?.deviceMatches == true ? applied : nil
        var kernels = applied?.kernels ?? [:], measured = own?.measured ?? [:]
        let routineBefore = try GemmTunings.parametersInUse("GemmRoutine", on: device)
        let shares: [Kernel: Double] = [.xgemm: 0.6, .direct: 0.3, .routine: 0.1]
        let total = options.kernels.reduce(0) { $0 + shares[$1]! }
        var deadline = start
        func budget(_ kernel: Kernel) -> Date {
            deadline = max(deadline, Date()).addingTimeInterval(options.budgetSeconds * shares[kernel]! / total)
            return deadline
        }
        if options.kernels.contains(.xgemm) {
            let r = try search(kernel: "Xgemm", spaces: [.xgemmKernel0, .xgemmKernel1], size: options.size,
                               routine: Self.alwaysIndirect, until: budget(.xgemm), log: log)
            (kernels["Xgemm"], measured["Xgemm"]) = (r.parameters, r.measurement)
        }
        if options.kernels.contains(.direct) {
            let r = try search(kernel: "XgemmDirect", spaces: [.xgemmDirect], size: options.directSize,
                               routine: Self.alwaysDirect, until: budget(.direct), log: log)
            (kernels["XgemmDirect"], measured["XgemmDirect"]) = (r.parameters, r.measurement)
        }
        if options.kernels.contains(.routine) {
            let r = try crossover(log: log)
            (kernels["GemmRoutine"], measured["GemmRoutine"]) = (["XGEMM_MIN_INDIRECT_SIZE": r.size], r.measurement)
        } else {
            try GemmTunings.override("GemmRoutine", routineBefore, on: device, what: "GemmRoutine as before tuning")
        }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return GemmTuning(device: device.name, driver: device.driverVersion, platform: device.platformName,
                          kind: device.kind.rawValue, date: formatter.string(from: start), command: own.map { $0.command + "; " + command } ?? command,
                          kernels: kernels, measured: measured, paths: own?.paths)
    }

    // MARK: - One kernel

    private func search(kernel: String, spaces: [GemmSearchSpace], size n: Int, routine: Int, until deadline: Date,
                        log: (String) -> Void) throws -> (parameters: [String: Int], measurement: GemmTuning.Measurement) {
        let device = backend.device
        try GemmTunings.override("GemmRoutine", ["XGEMM_MIN_INDIRECT_SIZE": routine], on: device, what: "GemmRoutine (forcing \(kernel))")
        let problem = try Problem(backend: backend, n: n, seed: options.seed)
        let baseline = try GemmTunings.parametersInUse(kernel, on: device)
        guard let baselineTime = try problem.time(runs: options.runs, check: false) else {
            throw SSLError.invalidArgument(op: "tune", detail: "\(kernel) with the parameters in use fails on \(device.name)")
        }
        try problem.checkAgainstDouble()
        try problem.keepAsReference()
        log(String(format: "%@ %dx%dx%d: in use %@ → %.1f GFLOP/s", kernel, n, n, n, GemmTunings.describe(baseline),
                   problem.flops / baselineTime / 1e9))

        var generator = SplitMix64(seed: options.seed &+ UInt64(kernel.count))
        var best = (parameters: baseline, time: baselineTime)
        var tried: Set<String> = [GemmTunings.describe(baseline)]
        var candidates = 0
        let randomUntil = Date().addingTimeInterval(deadline.timeIntervalSinceNow * 0.6)
        func evaluate(_ p: [String: Int]) throws -> Bool {
            let key = GemmTunings.describe(p)
            guard tried.insert(key).inserted else { return false }
            candidates += 1
            let outcome: String
            do {
                try GemmTunings.override(kernel, p, on: device, what: "\(kernel) candidate")
                if let t = try problem.time(runs: options.runs, check: true) {
                    outcome = String(format: "%.1f GFLOP/s", problem.flops / t / 1e9)
                    if t < best.time {
                        best = (p, t)
                        log("\(kernel) #\(candidates) \(key) → \(outcome), best so far")
                        return true
                    }
                } else {
                    outcome = "wrong result, dropped"
                }
            } catch {
                outcome = "failed (\(error)), dropped"
            }
            log("\(kernel) #\(candidates) \(key) → \(outcome)")
            return false
        }
        // Random phase: spaces in turn, so kernel 1 is sampled as often as kernel 0.
        var turn = 0
        while Date() < randomUntil && candidates < options.maxCandidates {
            guard let p = spaces[turn % spaces.count].random(&generator, on: device) else { break }
            turn += 1
            _ = try evaluate(p)
        }
        // Greedy phase: the best's neighbours, restarting from each improvement.
        var improved = true
        while improved && Date() < deadline && candidates < options.maxCandidates {
            improved = false
            guard let space = spaces.first(where: { $0.contains(best.parameters) }) else { break }
            for q in space.neighbours(of: best.parameters, on: device) {
                guard Date() < deadline && candidates < options.maxCandidates else { break }
                if try evaluate(q) { improved = true; break }
            }
        }
        try GemmTunings.override(kernel, best.parameters, on: device, what: "\(kernel) best")
        let measurement = GemmTuning.Measurement(size: [n, n, n], gflops: problem.flops / best.time / 1e9,
                                                 baselineGflops: problem.flops / baselineTime / 1e9, candidates: candidates)
        log(String(format: "%@: best %@ → %.1f GFLOP/s (in use before: %.1f), %d candidates", kernel,
                   GemmTunings.describe(best.parameters), measurement.gflops, measurement.baselineGflops, candidates))
        return (best.parameters, measurement)
    }

    /// The smallest size at which the indirect kernel is faster than the direct one, both as now set.
    private func crossover(log: (String) -> Void) throws -> (size: Int, measurement: GemmTuning.Measurement) {
        let device = backend.device
        let sizes = [64, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096].filter { $0 <= max(options.size, 64) }
        var times: [Int: [Double]] = [:]
        for routine in [Self.alwaysIndirect, Self.alwaysDirect] {
            try GemmTunings.override("GemmRoutine", ["XGEMM_MIN_INDIRECT_SIZE": routine], on: device, what: "GemmRoutine (crossover)")
            for n in sizes {
                let problem = try Problem(backend: backend, n: n, seed: options.seed)
                guard let t = try problem.time(runs: options.runs, check: false) else {
                    throw SSLError.invalidArgument(op: "tune", detail: "GEMM \(n)³ fails on \(device.name) with the tuned parameters")
                }
                times[n, default: []].append(t)
            }
        }
        // From the smallest size on which the indirect kernel wins at every measured size above:
        // one noisy size alone does not move the switch.
        let size = sizes.indices.first { i in sizes[i...].allSatisfy { times[$0]![0] < times[$0]![1] } }
            .map { sizes[$0] } ?? (sizes.last! + 1)
        for n in sizes {
            log(String(format: "GEMM %d³: indirect %.3f ms, direct %.3f ms", n, times[n]![0] * 1e3, times[n]![1] * 1e3))
        }
        log("GemmRoutine: XGEMM_MIN_INDIRECT_SIZE=\(size) (indirect from \(size)³ on)")
        try GemmTunings.override("GemmRoutine", ["XGEMM_MIN_INDIRECT_SIZE": size], on: device, what: "GemmRoutine tuned")
        let at = sizes.first { $0 >= size } ?? sizes.last!
        let flops = 2 * pow(Double(at), 3)
        return (size, GemmTuning.Measurement(size: [at, at, at], gflops: flops / times[at]![0] / 1e9,
                                             baselineGflops: flops / times[at]![1] / 1e9, candidates: 2 * sizes.count))
    }
}

/// One n³ SGEMM on the device with fixed random inputs, its reference C and its timing.
private final class Problem {
    let backend: OpenCLBackend
    let n: Int
    let a: Tensor, b: Tensor, c: Tensor
    let hostA: [Float], hostB: [Float]
    var reference: [Float]? = nil
    var flops: Double { 2 * pow(Double(n), 3) }

    init(backend: OpenCLBackend, n: Int, seed: UInt64) throws {
        self.backend = backend
        self.n = n
        var generator = SplitMix64(seed: seed)
        hostA = (0..<(n * n)).map { _ in generator.signedFloat() }
        hostB = (0..<(n * n)).map { _ in generator.signedFloat() }
        a = try backend.upload(hostA, shape: [n, n])
        b = try backend.upload(hostB, shape: [n, n])
        c = try backend.zeros([n, n])
    }

    private func multiply() throws {
        try backend.gemm(a, b, transposeA: false, transposeB: false, alpha: 1, beta: 0, into: c)
    }

    /// One untimed run (compiling), the check against the reference when asked, then the median
    /// device time of `runs`; nil when the check fails.
    func time(runs: Int, check: Bool) throws -> Double? {
        try backend.fill(c, with: .nan)  // a kernel that writes nothing must not pass on stale values
        try multiply()
        if check, let reference {
            let got = try backend.download(c)
            guard got.allSatisfy(\.isFinite), maxRelativeDifference(got, reference) <= 1e-4 else { return nil }
        }
        var times: [Double] = []
        for _ in 0..<max(runs, 1) {
            backend.context.beginTiming()
            try multiply()
            times.append(try backend.context.endTiming())
        }
        return times.sorted()[times.count / 2]
    }

    /// The current C (of the parameters in use) becomes the reference of every candidate.
    func keepAsReference() throws { reference = try backend.download(c) }

    /// Sampled entries of the current C against Double dot products.
    func checkAgainstDouble() throws {
        let got = try backend.download(c)
        var generator = SplitMix64(seed: 7)
        var worst = 0.0, scale = 0.0
        for _ in 0..<64 {
            let i = generator.below(n), j = generator.below(n)
            let exact = (0..<n).reduce(0.0) { $0 + Double(hostA[i * n + $1]) * Double(hostB[$1 * n + j]) }
            worst = max(worst, abs(Double(got[i * n + j]) - exact))
            scale = max(scale, abs(exact))
        }
        guard got.allSatisfy(\.isFinite), worst <= 1e-4 * max(scale, 1) else {
            throw SSLError.invalidArgument(op: "tune", detail: "SGEMM \(n)³ with the parameters in use is off by \(worst) on "
                                           + "\(backend.device.name): the device's GEMM is broken before tuning")
        }
    }

    private func maxRelativeDifference(_ x: [Float], _ y: [Float]) -> Double {
        var diff = 0.0, scale = 0.0
        for (p, q) in zip(x, y) {
            diff = max(diff, abs(Double(p) - Double(q)))
            scale = max(scale, abs(Double(q)))
        }
        return scale > 0 ? diff / scale : diff
    }
}
