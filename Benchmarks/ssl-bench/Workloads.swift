// What is benchmarked: one `Workload` per (op, size), each knowing its cost model, its inputs
// and how to call the op on any backend. Timing and validation (Runner.swift) are shared.
import ArgumentParser
import SSLCore

/// The ops the benchmark knows, as named by `--op`.
enum Op: String, CaseIterable, ExpressibleByArgument {
    case gemm, xcorr, sinkhorn

    /// The option that gives this op's sizes, and the form its values take.
    var sizeOption: (name: String, pattern: String) {
        switch self {
        case .gemm: return ("--gemm", "MxNxK")
        case .xcorr: return ("--xcorr", "NxD")
        case .sinkhorn: return ("--sinkhorn", "BxK")
        }
    }

    /// What the OpenCL backend runs for this op, for the JSON "variant".
    var openCLVariant: String {
        switch self {
        case .gemm: return "clblast"
        case .xcorr: return "batchnorm+clblast"
        case .sinkhorn: return "opencl"
        }
    }
}

/// One op at one size.
struct Workload {
    let op: Op
    /// As given on the command line: [M, N, K], [N, D] or [B, K].
    let shape: [Int]
    /// Floating-point operations of one call, for GFLOP/s.
    let flops: Double
    /// Bytes one call must at least read and write in device memory, for GB/s.
    let bytes: Double
    /// Multiply-add equivalents of one reference run, to decide whether validation is affordable.
    let referenceWork: Double
    /// The host inputs; deterministic, so that the reference sees exactly what the device sees.
    let inputs: () -> [HostInput]
    /// Binds the op to inputs already on `backend` and returns the call to time. Outputs that
    /// can be reused are allocated here, so that their allocation and zeroing are not timed.
    let bind: (_ backend: any Backend, _ inputs: [Tensor]) throws -> () throws -> Tensor

    var shapeText: String { shape.map(String.init).joined(separator: "x") }
}

extension Workload {
    /// The Barlow Twins batch-norm epsilon, as `torch.nn.BatchNorm1d` defaults to.
    static let batchNormEps: Float = 1e-5

    /// C(M, N) = A(M, K) · B(K, N).
    static func gemm(m: Int, n: Int, k: Int) -> Workload {
        let (dm, dn, dk) = (Double(m), Double(n), Double(k))
        return Workload(
            op: .gemm, shape: [m, n, k],
            flops: 2 * dm * dn * dk,                       // one multiply and one add per term
            bytes: 4 * (dm * dk + dk * dn + dm * dn),      // read A and B once, write C once
            referenceWork: dm * dn * dk,
            inputs: { [randomMatrix([m, k], seed: 1), randomMatrix([k, n], seed: 2)] },
            bind: { backend, t in
                let c = try backend.zeros([m, n])
                return {
                    try backend.gemm(t[0], t[1], transposeA: false, transposeB: false, alpha: 1, beta: 0, into: c)
                    return c
                }
            })
    }

    /// C(D, D) = BN(z1)ᵀ BN(z2) / N for z1, z2 of (N, D).
    static func crossCorrelation(n: Int, d: Int) -> Workload {
        let (dn, dd) = (Double(n), Double(d))
        return Workload(
            op: .xcorr, shape: [n, d],
            // The GEMM, 2·N·D², plus batch norm of both inputs at ~5 flops an element
            // (mean, variance, subtract, scale): 2 · 5 · N·D.
            flops: 2 * dn * dd * dd + 10 * dn * dd,
            // Per input: batch norm reads z and writes BN(z), the GEMM reads BN(z) — 3 · N·D
            // floats, for two inputs; then C is written once.
            bytes: 4 * (2 * 3 * dn * dd + dd * dd),
            referenceWork: dn * dd * dd,
            inputs: { [randomMatrix([n, d], seed: 3), randomMatrix([n, d], seed: 4)] },
            bind: { backend, t in { try backend.crossCorrelation(t[0], t[1], eps: batchNormEps) } })
    }

    /// SwAV codes (B, K) from scores (B, K) by `iterations` Sinkhorn-Knopp iterations.
    static func sinkhorn(b: Int, k: Int, epsilon: Float, iterations: Int) -> Workload {
        let elements = Double(b) * Double(k), its = Double(iterations)
        return Workload(
            op: .sinkhorn, shape: [b, k],
            // Each iteration makes two passes (columns, then rows) over the scores, at ~4 flops
            // an element (scale by 1/ε, add the dual, subtract the max, exp; exp counted as one).
            // The final codes pass is not counted.
            flops: its * 2 * 4 * elements,
            // Each iteration's two passes read S; the codes pass reads S and writes the codes.
            bytes: 4 * elements * (2 * its + 2),
            // Every pass costs an exp per element in Double, a few multiply-adds' worth.
            referenceWork: 4 * elements * (2 * its + 1),
            // Uniform in [-1, 1): |S| ≤ 1, as cosine scores of normalised features are.
            inputs: { [randomMatrix([b, k], seed: 5)] },
            bind: { backend, t in { try backend.sinkhorn(t[0], epsilon: epsilon, iterations: iterations) } })
    }
}
