// `ssl tune`'s second part: every form of the ops that have several, timed on one device at the
// sizes training uses, and the fastest recorded as the device's automatic choice (TunedPaths).
import Foundation

/// Times the forms of NT-Xent (fused kernels against GEMMs), Barlow Twins (Gram against feature
/// matrices), Sinkhorn (one group against one and two passes) and kNN (fused top-k against GEMM +
/// top-k) on the device of `backend`, and returns the fastest of each as ``TunedPaths``.
///
/// Each form runs once untimed (it compiles), then `runs` times; its time is the best of those,
/// wall-clock from enqueue to the results being ready, so launches and host work count as they
/// do in training. Inputs are seeded random values; every form computes the same result (the
/// parity tests hold them to it), so only time is compared.
public struct PathTuner {
    public struct Options: Sendable {
        /// NT-Xent's N (pairs) and D: SimCLR's batch of 256 and 128-wide projections.
        public var ntXent = (n: 256, d: 128)
        /// Barlow Twins' D, and the N/D ratios at which Gram and feature forms are timed (N from
        /// 128 to 2048).
        public var redundancyD = 1024
        public var redundancyRatios: [Double] = [0.125, 0.25, 0.5, 1, 2]
        /// Sinkhorn's (B, K), ascending in B·K: up to SwAV's 256 × 3000.
        public var sinkhorn: [(b: Int, k: Int)] = [(16, 64), (32, 128), (64, 128), (64, 256), (128, 512), (256, 1024), (256, 3000)]
        /// kNN's queries, bank, D and k: a chunk of test images against a bank, k = 20.
        public var knn = (queries: 512, keys: 10_000, d: 128, k: 20)
        /// Timed runs per form, after one untimed run. The best of 15 decided the same way twice
        /// on a busy 2-core PoCL machine, where the best of 3 or 5 flipped near-ties.
        public var runs = 15
        public var seed: UInt64 = 1

        public init() {}

        /// Sizes small enough for tests and Oclgrind; the same code paths.
        public static var tiny: Options {
            var o = Options()
            o.ntXent = (9, 13)
            o.redundancyD = 16
            o.redundancyRatios = [0.5, 2]
            o.sinkhorn = [(3, 7), (9, 31)]
            o.knn = (5, 70, 9, 4)
            o.runs = 1
            return o
        }
    }

    public let backend: OpenCLBackend
    public let options: Options

    public init(backend: OpenCLBackend, options: Options = Options()) {
        self.backend = backend
        self.options = options
    }

    /// Times every form; `log` receives one line per op and size.
    public func run(log: (String) -> Void) throws -> TunedPaths {
        var paths = TunedPaths()
        var random = SplitMix64(seed: options.seed)
        func uniform(_ shape: [Int]) throws -> Tensor {
            try backend.upload((0..<shape.reduce(1, *)).map { _ in Float(random.next() >> 40) / Float(1 << 23) - 1 }, shape: shape)
        }
        func record(_ key: String, _ times: [(String, Double)]) -> String {
            paths.measured[key] = Dictionary(uniqueKeysWithValues: times)
            let fastest = Self.fastest(times)
            log("\(key): " + times.map { String(format: "%@ %.3f ms", $0.0, $0.1) }.joined(separator: ", ") + " → \(fastest)")
            return fastest
        }

        let (n, d) = options.ntXent
        let z1 = try uniform([n, d]), z2 = try uniform([n, d])
        let ntXent = try record("ntxent \(2 * n)x\(d)", [NTXentAlgorithm.gemm, .fused].map { algorithm in
            (algorithm.rawValue, try time { _ = try backend.ntXent(z1, z2, temperature: 0.1, algorithm: algorithm) })
        })
        paths.ntXent = NTXentAlgorithm(rawValue: ntXent)

        // The Gram form while N < ratio·D: the ratio is the first measured N/D at which the
        // feature form wins (beyond the last one measured, if Gram wins throughout).
        let dr = options.redundancyD
        var gramBelow: Double? = nil
        for ratio in options.redundancyRatios {
            let rows = max(2, Int((ratio * Double(dr)).rounded()))
            let y1 = try uniform([rows, dr]), y2 = try uniform([rows, dr])
            let form = try record("barlow \(rows)x\(dr)", [RedundancyForm.gram, .feature].map { form in
                (form.rawValue, try time { _ = try backend.barlowTwins(y1, y2, lambda: 0.0051, eps: 1e-5, form: form) })
            })
            if form == RedundancyForm.feature.rawValue && gramBelow == nil { gramBelow = ratio }
        }
        paths.gramBelowRatio = gramBelow ?? 2 * (options.redundancyRatios.last ?? 1)

        // One group up to the largest B·K measured before the first size at which a multi-pass
        // version beats it; above, whichever multi-pass version wins at the largest size.
        var oneGroupMax: Int? = nil, passes = SinkhornVariant.onePass, below = 0
        for (b, k) in options.sinkhorn {
            let scores = try uniform([b, k])
            var times: [(String, Double)] = []
            for variant in SinkhornVariant.allCases {
                do {
                    times.append((variant.rawValue, try time {
                        _ = try backend.sinkhorn(scores, epsilon: 0.05, iterations: 3, variant: variant)
                    }))
                } catch SSLError.invalidArgument {
                    continue  // a size the variant does not take
                } catch SSLError.exceedsDeviceLimits where variant == .oneGroup {
                    continue  // its duals exceed local memory
                }
            }
            let fastest = record("sinkhorn \(b)x\(k)", times)
            passes = SinkhornVariant(rawValue: Self.fastest(times.filter { $0.0 != SinkhornVariant.oneGroup.rawValue }))!
            if oneGroupMax == nil && fastest != SinkhornVariant.oneGroup.rawValue { oneGroupMax = below }
            below = b * k
        }
        paths.sinkhornOneGroupMaxElements = oneGroupMax ?? below
        paths.sinkhornPasses = passes

        let q = options.knn
        let queries = try uniform([q.queries, q.d]), keys = try uniform([q.keys, q.d])
        var knnTimes: [(String, Double)] = []
        let fusedFits = try backend.knnTiles(k: q.k) != nil
        for variant in KNNVariant.allCases where variant == .unfused || fusedFits {
            var choices = backend.kernels
            choices.knn = variant
            let forced = OpenCLBackend(context: backend.context, kernels: choices)
            knnTimes.append((variant.rawValue, try time {
                _ = try forced.similarityTopK(queries, keys, k: q.k, columnOffset: 0, merging: nil)
            }))
        }
        paths.knn = KNNVariant(rawValue: record("knn \(q.queries)x\(q.keys)x\(q.d) k \(q.k)", knnTimes))
        return paths
    }

    /// The form of least time, the first listed on a tie.
    static func fastest(_ times: [(String, Double)]) -> String {
        times.first { $0.1 == times.map(\.1).min()! }!.0
    }

    /// Best wall-clock milliseconds, to the microsecond as the file keeps them, of `options.runs`
    /// runs of `body` after one untimed run, each waiting for the device.
    private func time(_ body: () throws -> Void) throws -> Double {
        try body()
        try backend.synchronize()
        var best = Double.infinity
        for _ in 0..<options.runs {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            try backend.synchronize()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        return (best * 1e6).rounded() / 1e3
    }
}
