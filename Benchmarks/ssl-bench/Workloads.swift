// What is benchmarked: one `Workload` per (op, size, variant), each knowing its cost model, its
// inputs and how to call the op on any backend. Timing and validation (Runner.swift) are shared.
//
// Cost model. GFLOP/s count the floating-point operations of the algorithm as implemented
// (GEMMs at 2 flops a multiply-add; element-wise passes at the few flops an element stated
// below), not what a fused or symmetric kernel could save. GB/s count the bytes one call must at
// least move in device memory: inputs read once, outputs written once, and the intermediates
// named below written and read once. Benchmarks/peers/bench_common.py repeats both formulas for
// the algorithms the peers run (the D×D forms, NT-Xent's GEMMs), so a peer's GFLOP/s and ours in
// those variants are comparable; the Gram and fused variants count their own work, and median
// times compare across variants.
import ArgumentParser
import SSLCore
import SSLTrain

/// The ops the benchmark knows, as named by `--op`.
enum Op: String, CaseIterable, ExpressibleByArgument {
    case gemm, xcorr, sinkhorn, barlow, vicreg, ntxent, knn

    /// The option that gives this op's sizes, and the form its values take.
    var sizeOption: (name: String, pattern: String) {
        switch self {
        case .gemm: return ("--gemm", "MxNxK")
        case .xcorr: return ("--xcorr", "NxD")
        case .sinkhorn: return ("--sinkhorn", "BxK")
        case .barlow: return ("--barlow", "NxD")
        case .vicreg: return ("--vicreg", "NxD")
        case .ntxent: return ("--ntxent", "NxD")
        case .knn: return ("--knn", "NxMxD[xK]")
        }
    }

}

/// What one call leaves behind to compare with the reference backend's.
enum Output {
    /// Tensors on the backend; downloaded only to validate, never inside the timed runs.
    case tensors([Tensor])
    /// Values already on the host: the kNN classifier downloads its predictions itself.
    case host([[Float]])
}

/// One op at one size, in one variant.
struct Workload {
    let op: Op
    /// As given on the command line: [M, N, K], [N, D], [B, K] or [N, M, D, K].
    let shape: [Int]
    /// What the OpenCL backend runs, for the JSON "variant" ("clblast", "gram+clblast", "fused", …).
    let variant: String

    /// ``variant`` with the kernel versions `backend` resolves for this size (its `KernelChoices`:
    /// SSL_SINKHORN, SSL_KNN, SSL_GEMM / --tf32), as the JSON "variant" reports it: the GEMM
    /// part names what runs (clblast, blas or tf32).
    func openCLVariant(on backend: OpenCLBackend) -> String {
        let gemm = backend.gemmVariant.rawValue
        switch op {
        case .sinkhorn:
            return "opencl-" + (backend.kernels.sinkhorn ?? backend.automaticSinkhornVariant(b: shape[0], k: shape[1])).rawValue
        case .knn: return "opencl-" + (backend.kernels.knn ?? backend.automaticKNNVariant(k: shape[3])).rawValue
        default: return variant.replacingOccurrences(of: "clblast", with: gemm)
        }
    }
    /// Floating-point operations of one call, for GFLOP/s.
    let flops: Double
    /// Bytes one call must at least read and write in device memory, for GB/s.
    let bytes: Double
    /// Multiply-add equivalents of one reference run, to decide whether validation is affordable.
    let referenceWork: Double
    /// Time with the host's wall clock even on OpenCL: for calls that move data between host and
    /// device and wait on it themselves, where profiling events would leave the host's share out.
    var wallClock = false
    /// The host inputs; deterministic, so that the reference sees exactly what the device sees.
    let inputs: () -> [HostInput]
    /// Binds the op to `inputs` on `backend` (uploading what it keeps on the device) and returns
    /// the call to time. Outputs that can be reused are allocated here, so that their allocation
    /// and zeroing are not timed.
    let bind: (_ backend: any Backend, _ inputs: [HostInput]) throws -> () throws -> Output

    var shapeText: String { shape.map(String.init).joined(separator: "x") }

    /// The same op and variant at a size the reference checks in seconds, for a workload too
    /// large to check itself; nil when this one is small enough.
    var checkedAt: (() -> Workload)? = nil
}

extension Workload {
    /// The Barlow Twins batch-norm epsilon, as `torch.nn.BatchNorm1d` defaults to.
    static let batchNormEps: Float = 1e-5
    /// Classes of the kNN workload's labels (CIFAR-10's and Fashion-MNIST's count).
    static let knnClasses = 10

    /// The workload `op` runs at `shape` (as ``Sizes`` returns it). `form` applies to barlow and
    /// vicreg, `algorithm` to ntxent; `.automatic` is resolved here as the OpenCL backend resolves
    /// it on a device whose largest buffer is `maxAllocationBytes` and whose tuning file measured
    /// `paths`. The smaller twin that checks a large workload keeps the large one's resolved form.
    static func make(_ op: Op, shape s: [Int], epsilon: Float, iterations: Int, form: RedundancyForm = .automatic,
                     algorithm: NTXentAlgorithm = .automatic, maxAllocationBytes: Int = .max,
                     paths: TunedPaths? = nil) -> Workload {
        let form = form.resolved(n: s[0], d: s.count > 1 ? s[1] : 1, gramBelowRatio: paths?.gramBelowRatio ?? 1)
        let algorithm = algorithm.resolved(rows: 2 * s[0], maxAllocationBytes: maxAllocationBytes,
                                           preferred: paths?.ntXent ?? .gemm)
        var workload = makeUnchecked(op, shape: s, epsilon: epsilon, iterations: iterations, form: form, algorithm: algorithm)
        if workload.referenceWork > Runner.referenceWorkLimit {
            let small = checkShape(op, s)
            workload.checkedAt = {
                makeUnchecked(op, shape: small, epsilon: epsilon, iterations: iterations, form: form, algorithm: algorithm)
            }
        }
        return workload
    }

    /// A shape of the same op that the reference computes in seconds, off every tile (primes and
    /// odd sizes), and in the same regime where the variant depends on it (N < D stays N < D).
    static func checkShape(_ op: Op, _ s: [Int]) -> [Int] {
        switch op {
        case .gemm: return [min(s[0], 257), min(s[1], 131), min(s[2], 193)]
        case .xcorr, .barlow, .vicreg, .ntxent:
            let n = min(s[0], 97), d = min(s[1], 211)
            return s[0] < s[1] ? [min(n, d - 1), d] : [n, min(d, n)]
        case .sinkhorn: return [min(s[0], 257), min(s[1], 131)]
        case .knn: return [min(s[0], 1031), min(s[1], 67), min(s[2], 129), s[3]]
        }
    }

    /// `form` and `algorithm` resolved (not automatic).
    private static func makeUnchecked(_ op: Op, shape s: [Int], epsilon: Float, iterations: Int, form: RedundancyForm,
                                      algorithm: NTXentAlgorithm) -> Workload {
        switch op {
        case .gemm: return .gemm(m: s[0], n: s[1], k: s[2])
        case .xcorr: return .crossCorrelation(n: s[0], d: s[1])
        case .sinkhorn: return .sinkhorn(b: s[0], k: s[1], epsilon: epsilon, iterations: iterations)
        case .barlow: return .barlowTwins(n: s[0], d: s[1], form: form)
        case .vicreg: return .vicreg(n: s[0], d: s[1], form: form)
        case .ntxent: return .ntXent(n: s[0], d: s[1], algorithm: algorithm)
        case .knn: return .knn(train: s[0], test: s[1], d: s[2], k: s[3])
        }
    }

    /// C(M, N) = A(M, K) · B(K, N).
    static func gemm(m: Int, n: Int, k: Int) -> Workload {
        let (dm, dn, dk) = (Double(m), Double(n), Double(k))
        return Workload(
            op: .gemm, shape: [m, n, k], variant: "clblast",
            flops: 2 * dm * dn * dk,                       // one multiply and one add per term
            bytes: 4 * (dm * dk + dk * dn + dm * dn),      // read A and B once, write C once
            referenceWork: dm * dn * dk,
            inputs: { [randomMatrix([m, k], seed: 1), randomMatrix([k, n], seed: 2)] },
            bind: { backend, host in
                let t = try host.upload(to: backend), c = try backend.zeros([m, n])
                return {
                    try backend.gemm(t[0], t[1], transposeA: false, transposeB: false, alpha: 1, beta: 0, into: c)
                    return .tensors([c])
                }
            })
    }

    /// C(D, D) = BN(z1)ᵀ BN(z2) / N for z1, z2 of (N, D).
    static func crossCorrelation(n: Int, d: Int) -> Workload {
        let (dn, dd) = (Double(n), Double(d))
        return Workload(
            op: .xcorr, shape: [n, d], variant: "batchnorm+clblast",
            // The GEMM, 2·N·D², plus batch norm of both inputs at ~5 flops an element
            // (mean, variance, subtract, scale): 2 · 5 · N·D.
            flops: 2 * dn * dd * dd + 10 * dn * dd,
            // Per input: batch norm reads z and writes BN(z), the GEMM reads BN(z) — 3 · N·D
            // floats, for two inputs; then C is written once.
            bytes: 4 * (2 * 3 * dn * dd + dd * dd),
            referenceWork: dn * dd * dd,
            inputs: { [randomMatrix([n, d], seed: 3), randomMatrix([n, d], seed: 4)] },
            bind: { backend, host in
                let t = try host.upload(to: backend)
                return { .tensors([try backend.crossCorrelation(t[0], t[1], eps: batchNormEps)]) }
            })
    }

    /// SwAV codes (B, K) from scores (B, K) by `iterations` Sinkhorn-Knopp iterations.
    static func sinkhorn(b: Int, k: Int, epsilon: Float, iterations: Int) -> Workload {
        let elements = Double(b) * Double(k), its = Double(iterations)
        return Workload(
            op: .sinkhorn, shape: [b, k], variant: "opencl",
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
            bind: { backend, host in
                let t = try host.upload(to: backend)
                return { .tensors([try backend.sinkhorn(t[0], epsilon: epsilon, iterations: iterations)]) }
            })
    }

    // MARK: - Objectives, forward and backward

    /// The Barlow Twins loss of z1, z2 (N, D) and both gradients (BarlowTwins.swift), λ 0.0051,
    /// in `form` (the reference backend too, so that validation compares like with like).
    static func barlowTwins(n: Int, d: Int, form: RedundancyForm) -> Workload {
        let (dn, dd) = (Double(n), Double(d))
        // Batch norm forward (~5 flops an element) and backward (~8) of both views: 26·N·D.
        let batchNorm = 26 * dn * dd
        let (flops, bytes): (Double, Double)
        if form == .gram {
            // GEMMs: G1 = Y1Y1ᵀ and G2 = Y2Y2ᵀ forward, G2·Y1 and G1·Y2 backward, 2·N²·D each;
            // C's diagonal and the diagonal share of dY, ~6 flops an element; ⟨G1, G2⟩, 2 an entry.
            flops = 8 * dn * dn * dd + batchNorm + 6 * dn * dd + 2 * dn * dn
            // z1, z2 read, dZ1, dZ2 written; G1 and G2 written and reread once.
            bytes = 4 * (4 * dn * dd + 4 * dn * dn)
        } else {
            // GEMMs: C = Y1ᵀY2 forward, dY1 = Y2 dCᵀ and dY2 = Y1 dC backward, 2·N·D² each;
            // the loss and dC, ~4 flops an entry of C.
            flops = 6 * dn * dd * dd + batchNorm + 4 * dd * dd
            // z1, z2 read, dZ1, dZ2 written; C and dC written and reread once.
            bytes = 4 * (4 * dn * dd + 4 * dd * dd)
        }
        return Workload(
            op: .barlow, shape: [n, d], variant: form.rawValue + "+clblast", flops: flops, bytes: bytes,
            referenceWork: 3 * dn * dd * dd,
            inputs: { [randomMatrix([n, d], seed: 6), randomMatrix([n, d], seed: 7)] },
            bind: { backend, host in
                let t = try host.upload(to: backend)
                return {
                    // C is not read: in the Gram form that would add the D×D GEMM it exists to avoid.
                    let r = try backend.barlowTwins(t[0], t[1], lambda: BarlowTwinsReference.defaultLambda,
                                                    eps: BarlowTwinsReference.defaultEps, form: form)
                    return .tensors([r.loss, r.dZ1, r.dZ2])
                }
            })
    }

    /// The VICReg loss of z1, z2 (N, D) and both gradients (VICReg.swift), coefficients 25, 25, 1,
    /// in `form` (the reference backend too).
    static func vicreg(n: Int, d: Int, form: RedundancyForm) -> Workload {
        let (dn, dd) = (Double(n), Double(d))
        // Centring, invariance and variance terms and their gradients, ~20 flops an element of the two views.
        let elementwise = 20 * dn * dd
        let (flops, bytes): (Double, Double)
        if form == .gram {
            // GEMMs: G = x̄x̄ᵀ forward and G·x̄ backward, for both views: 4 · 2·N²·D; ‖G‖², 2 flops an entry of each G.
            flops = 8 * dn * dn * dd + elementwise + 4 * dn * dn
            // z1, z2 read, dZ1, dZ2 written; both G written and reread once.
            bytes = 4 * (4 * dn * dd + 4 * dn * dn)
        } else {
            // GEMMs: K = x̄ᵀx̄ forward and x̄·offdiag(K) backward, for both views: 4 · 2·N·D²; the
            // off-diagonal sums, ~2 flops an entry of each K.
            flops = 8 * dn * dd * dd + elementwise + 4 * dd * dd
            // z1, z2 read, dZ1, dZ2 written; both K written and reread once.
            bytes = 4 * (4 * dn * dd + 4 * dd * dd)
        }
        return Workload(
            op: .vicreg, shape: [n, d], variant: form.rawValue + "+clblast", flops: flops, bytes: bytes,
            referenceWork: 4 * dn * dd * dd,
            inputs: { [randomMatrix([n, d], seed: 8), randomMatrix([n, d], seed: 9)] },
            bind: { backend, host in
                let t = try host.upload(to: backend)
                return {
                    let r = try backend.vicreg(t[0], t[1], simCoeff: VICRegReference.defaultSimCoeff,
                                               stdCoeff: VICRegReference.defaultStdCoeff,
                                               covCoeff: VICRegReference.defaultCovCoeff, form: form)
                    return .tensors([r.loss, r.parts, r.dZ1, r.dZ2])
                }
            })
    }

    /// SimCLR's NT-Xent of z1, z2 (N, D) and both gradients (NTXent.swift), T 0.1, by `algorithm`
    /// (the reference backend computes the definition either way).
    static func ntXent(n: Int, d: Int, algorithm: NTXentAlgorithm) -> Workload {
        let rows = 2 * Double(n), dd = Double(d)
        // Normalisation forward and backward, ~8 flops an element.
        let normalisation = 8 * rows * dd
        let (flops, bytes): (Double, Double)
        if algorithm == .fused {
            // Forward S tiles, 2·(2N)²·D; backward S tiles again once per 128-column block of
            // dẑ, and W·ẑ, 2·(2N)²·D each; ~8 flops an entry of S for the forward's running
            // log-sum-exp and the backward's two exps.
            let columnBlocks = (dd / 128).rounded(.up)
            flops = (4 + 2 * columnBlocks) * rows * rows * dd + 8 * rows * rows + normalisation
            // z1, z2 read, dZ1, dZ2 written; nothing 2N×2N, only per-row statistics.
            bytes = 4 * (2 * rows * dd + 4 * rows)
        } else {
            // GEMMs on the 2N stacked rows: S = ẑẑᵀ forward, dS·ẑ and dSᵀ·ẑ backward, 2·(2N)²·D
            // each. Row softmax and dS, ~6 flops an entry of S.
            flops = 6 * rows * rows * dd + 6 * rows * rows + normalisation
            // z1, z2 read, dZ1, dZ2 written; S and dS (2N, 2N) written and reread once each.
            bytes = 4 * (2 * rows * dd + 4 * rows * rows)
        }
        return Workload(
            op: .ntxent, shape: [n, d], variant: algorithm == .fused ? "fused" : "gemm+clblast",
            flops: flops, bytes: bytes, referenceWork: 2 * rows * rows * dd,
            inputs: { [randomMatrix([n, d], seed: 10), randomMatrix([n, d], seed: 11)] },
            bind: { backend, host in
                let t = try host.upload(to: backend)
                return {
                    let r = try backend.ntXent(t[0], t[1], temperature: NTXentReference.defaultTemperature,
                                               algorithm: algorithm)
                    return .tensors([r.loss, r.dZ1, r.dZ2])
                }
            })
    }

    // MARK: - Evaluation

    /// Weighted kNN (KNNClassifier: cosine, k neighbours, T 0.07) of `test` (M, D) against
    /// `train` (N, D) features with 10 classes, the whole `classify` call timed by the wall
    /// clock: host features in, host predictions and votes out, as a user calls it, uploads,
    /// per-chunk downloads and host work included.
    static func knn(train: Int, test: Int, d: Int, k: Int) -> Workload {
        let (dn, dm, dd) = (Double(train), Double(test), Double(d))
        return Workload(
            op: .knn, shape: [train, test, d, k], variant: "opencl+clblast",
            // The similarity GEMMs, 2·M·N·D; normalisation, top-k and votes are not counted.
            flops: 2 * dm * dn * dd,
            // Both feature sets read once; the M×N similarities written by the GEMMs and read by top-k.
            bytes: 4 * (dn * dd + dm * dd + 2 * dm * dn),
            referenceWork: dm * dn * dd,
            wallClock: true,
            inputs: {
                let (trainFeatures, trainLabels) = clusteredFeatures(rows: train, d: d, seed: 12)
                let (testFeatures, _) = clusteredFeatures(rows: test, d: d, seed: 13)
                return [trainFeatures, trainLabels, testFeatures]
            },
            bind: { backend, host in
                // Built here, so that FeatureMatrix's finiteness scan is not timed.
                let trainFeatures = try FeatureMatrix(values: host[0].values, rows: train, columns: d)
                let testFeatures = try FeatureMatrix(values: host[2].values, rows: test, columns: d)
                let labels = host[1].values.map { Int($0) }
                let classifier = KNNClassifier(k: k)
                return {
                    let r = try classifier.classify(train: trainFeatures, labels: labels, test: testFeatures, on: backend)
                    return .host([r.predictions.map(Float.init), r.votes])
                }
            })
    }
}

/// Features near one of ``Workload/knnClasses`` random centres each, and their labels as floats:
/// a kNN problem with an answer, so that neighbours are not near-ties of noise.
private func clusteredFeatures(rows: Int, d: Int, seed: UInt64) -> (features: HostInput, labels: HostInput) {
    let centres = randomMatrix([Workload.knnClasses, d], seed: 100)
    var generator = SplitMix64(seed: seed)
    var values = [Float](), labels = [Float]()
    values.reserveCapacity(rows * d)
    for _ in 0..<rows {
        let label = generator.below(Workload.knnClasses)
        labels.append(Float(label))
        for j in 0..<d { values.append(centres.values[label * d + j] + generator.signedFloat()) }
    }
    return (HostInput(values: values, shape: [rows, d]), HostInput(values: labels, shape: [rows]))
}
