// Running one workload: validate against the reference, warm up, then time `runs` calls.
import Foundation
import SSLCommandLine
import SSLCore

/// How a result compared with the reference backend's.
enum Check {
    /// max |ours − ref| / max |ref|, at the workload's own size.
    case maxRelativeError(Double)
    /// max |ours − ref| / max |ref| of the same op and variant at a smaller size
    /// (``Workload/checkedAt``), the reference being too slow at this one.
    case atSmallerSize(Double, shape: [Int])
    /// The device is the reference backend itself.
    case isReference

    var error: Double? {
        switch self {
        case .maxRelativeError(let e), .atSmallerSize(let e, _): return e
        case .isReference: return nil
        }
    }
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

    /// Tolerance of every float32 variant against the Double reference: the --quick sizes
    /// measure ≤ 8e-7 of the largest reference value, and summation order alone stays far below.
    static let float32Tolerance = 1e-4
    /// TF32 rounds every input to 10 mantissa bits: entries within ~2⁻¹⁰·Σ|a||b|.
    static let tf32Tolerance = 5e-3

    /// The error a variant is allowed on this backend (`override` replaces it: the tests' way to
    /// break a correct variant).
    func tolerance(override: Double?) -> Double {
        if let override { return override }
        return (backend as? OpenCLBackend)?.gemmVariant == .tf32 ? Self.tf32Tolerance : Self.float32Tolerance
    }

    /// Checks `workload` against the reference, at ``Workload/checkedAt`` when it is too large,
    /// and throws `BenchError.wrongResult` when it is off by more than `tolerance`.
    func check(_ workload: Workload, tolerance: Double) throws -> Check {
        let checked = workload.checkedAt?() ?? workload
        let host = checked.inputs()
        return try check(checked, result: try checked.bind(twinBackend(for: workload), host)(), host: host, tolerance: tolerance,
                         resized: workload.checkedAt != nil)
    }

    /// The backend a smaller twin of `workload` runs on: the kernel version the workload's own
    /// size resolves to pinned (Sinkhorn's one group may suit the twin and not the workload), so
    /// that the version checked is the one timed.
    private func twinBackend(for workload: Workload) -> any Backend {
        guard workload.checkedAt != nil, let cl = backend as? OpenCLBackend else { return backend }
        var kernels = cl.kernels
        switch workload.op {
        case .sinkhorn: kernels.sinkhorn = kernels.sinkhorn ?? cl.automaticSinkhornVariant(b: workload.shape[0], k: workload.shape[1])
        case .knn: kernels.knn = kernels.knn ?? cl.automaticKNNVariant(k: workload.shape[3])
        default: return backend
        }
        return OpenCLBackend(context: cl.context, kernels: kernels, paths: cl.paths)
    }

    private func check(_ workload: Workload, result: Output, host: [HostInput], tolerance: Double,
                       resized: Bool = false) throws -> Check {
        let check = try validate(workload, result: try values(of: result, on: backend), host: host, resized: resized)
        if let error = check.error, !(error <= tolerance) {
            throw BenchError.wrongResult(workload: "\(workload.op.rawValue) \(workload.shapeText)", device: backend.name,
                                         error: error, tolerance: tolerance)
        }
        return check
    }

    /// Checks, then times; a wrong result throws before any timing. - Parameter printsProfile:
    /// print to standard error, after timing, the device time of the timed runs by command (OpenCL only).
    func measure(_ workload: Workload, tolerance: Double, printsProfile: Bool = false) throws -> Measurement {
        let host = workload.inputs()
        let call = try workload.bind(backend, host)
        // At its own size the check is the first call, paying one-time costs (kernel builds,
        // CLBlast's compilation) outside the timed runs; a larger workload checks a smaller twin.
        let check = workload.checkedAt == nil
            ? try self.check(workload, result: try call(), host: host, tolerance: tolerance)
            : try self.check(workload, tolerance: tolerance)
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
    private func validate(_ workload: Workload, result: [[Float]], host: [HostInput], resized: Bool) throws -> Check {
        // A benchmark of wrong numbers is meaningless, and NaN has no place in the JSON.
        guard result.allSatisfy({ $0.allSatisfy { $0.isFinite } }) else {
            throw BenchError.nonFinite(workload: "\(workload.op.rawValue) \(workload.shapeText)", device: backend.name)
        }
        if backend.kind == .reference { return .isReference }
        let reference = ReferenceBackend()
        let expected = try values(of: try workload.bind(reference, host)(), on: reference)
        let error = zip(result, expected).map { maxRelativeError($0, $1) }.max() ?? 0
        return resized ? .atSmallerSize(error, shape: workload.shape) : .maxRelativeError(error)
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
    case wrongResult(workload: String, device: String, error: Double, tolerance: Double)

    var description: String {
        switch self {
        case let .nonFinite(workload, device): return "\(workload) on \(device) produced NaN or Inf"
        case let .wrongResult(workload, device, error, tolerance):
            return "\(workload) on \(device) is off the reference by \(String(format: "%.2e", error)) of its largest "
                + "value, more than the tolerance \(String(format: "%.1e", tolerance)): not timed"
        }
    }
}
