// Sinkhorn-Knopp codes: against SwAV's formula in float64, OpenCL vs reference, stability.
import Foundation
import Testing
@testable import SSLCore

/// SwAV's distributed_sinkhorn for one process, literally, in Double (plain exp: fine for
/// |S|/ε ≤ ~700, which is why the stable implementations are needed below that).
func swavSinkhorn(_ s: [Float], b: Int, k: Int, epsilon: Double, iterations: Int) -> [Double] {
    var q = [Double](repeating: 0, count: k * b)  // K×B
    for i in 0..<b { for j in 0..<k { q[j * b + i] = exp(Double(s[i * k + j]) / epsilon) } }
    let total = q.reduce(0, +)
    q = q.map { $0 / total }
    for _ in 0..<iterations {
        for j in 0..<k {
            let row = (0..<b).reduce(0.0) { $0 + q[j * b + $1] }
            for i in 0..<b { q[j * b + i] /= row * Double(k) }
        }
        for i in 0..<b {
            let column = (0..<k).reduce(0.0) { $0 + q[$1 * b + i] }
            for j in 0..<k { q[j * b + i] /= column * Double(b) }
        }
    }
    var codes = [Double](repeating: 0, count: b * k)
    for i in 0..<b { for j in 0..<k { codes[i * k + j] = q[j * b + i] * Double(b) } }
    return codes
}

@Suite struct SinkhornTests {
    /// Codes lie in [0, 1]. In the log domain a float32 exponent of magnitude |S|/ε carries an
    /// absolute error of about (|S|/ε)·2⁻²⁴, i.e. 6e-6 relative at ε = 0.01: 1e-4 at ε = 0.05
    /// and 1e-3 at ε = 0.01 are the bounds, with margin.
    static func tolerance(_ epsilon: Double) -> Double { epsilon < 0.05 ? 1e-3 : 1e-4 }

    static let fixtureCases = ["1x1", "37x11", "50x129"].flatMap { tag in [0.05, 0.01].map { (tag, $0) } }

    @Test("matches SwAV's float64 formula (NumPy fixtures)", arguments: fixtureCases)
    func matchesNumPy(_ c: (String, Double)) throws {
        let scores = try Fixtures.floats("sinkhorn_\(c.0)_scores")
        let expected = try Fixtures.doubles("sinkhorn_\(c.0)_eps\(c.1)_codes")
        try forEachBackend { backend in
            let q = try backend.sinkhorn(try backend.upload(scores.values, shape: scores.shape),
                                         epsilon: Float(c.1), iterations: 3)
            let tol = Self.tolerance(c.1)
            assertClose(try backend.download(q), expected.values, shape: q.shape, expectedShape: expected.shape,
                        rtol: tol, atol: tol, "sinkhorn \(c.0) ε \(c.1) on \(backend.name)")
        }
    }

    static let shapes: [(Int, Int)] = [(1, 1), (1, 7), (7, 13), (33, 65), (64, 300), (257, 31)]

    @Test("matches the Swift float64 formula at ε 0.05 and 0.01 on every shape",
          arguments: Oclgrind.cases(shapes, limit: 2_500) { $0.0 * $0.1 })
    func matchesFormula(_ s: (Int, Int)) throws {
        var rng = SeededRandom(seed: UInt64(s.0 * 31 + s.1))
        let scores = rng.uniform(s.0 * s.1)
        for epsilon in [0.05, 0.01] {
            let expected = swavSinkhorn(scores, b: s.0, k: s.1, epsilon: epsilon, iterations: 3)
            try forEachBackend { backend in
                let q = try backend.sinkhorn(try backend.upload(scores, shape: [s.0, s.1]),
                                             epsilon: Float(epsilon), iterations: 3)
                let tol = Self.tolerance(epsilon)
                assertClose(try backend.download(q), expected, shape: q.shape, expectedShape: [s.0, s.1],
                            rtol: tol, atol: tol, "sinkhorn \(s) ε \(epsilon) on \(backend.name)")
            }
        }
    }

    @Test("stays finite and equipartitioned where exp(S/ε) overflows", arguments: [(Float(0.001), Float(1)), (Float(0.05), Float(60))])
    func stableWhereExpOverflows(_ c: (Float, Float)) throws {
        let (b, k) = (48, 17)
        var rng = SeededRandom(seed: 7)
        let scores = rng.uniform(b * k, scale: c.1)  // |S|/ε up to 1000 or 1200: e^1000 overflows even Double
        var results: [[Float]] = []
        try forEachBackend { backend in
            let q = try backend.download(try backend.sinkhorn(try backend.upload(scores, shape: [b, k]),
                                                              epsilon: c.0, iterations: 10))
            #expect(q.allSatisfy { $0.isFinite && $0 >= 0 }, "\(backend.name)")
            // After the last column step every sample's codes sum to 1.
            for i in 0..<b {
                let row = q[(i * k)..<((i + 1) * k)].reduce(0, +)
                #expect(abs(row - 1) < 1e-4, "\(backend.name) row \(i) sums to \(row)")
            }
            results.append(q)
        }
        if results.count == 2 {
            assertClose(results[1], results[0].map(Double.init), shape: [b, k], expectedShape: [b, k],
                        rtol: 2e-3, atol: 2e-3, "OpenCL vs reference at ε \(c.0), |S| ≤ \(c.1)")
        }
    }

    // MARK: - The OpenCL versions (SinkhornVariant)

    /// (B, K): 1 and primes; B above 8 · 8 rows spreads the one-pass version over several groups
    /// with a partial last one (PoCL: 8 groups of 33 rows for 257); K = 1 and K < a team of 32.
    static let variantShapes: [(Int, Int)] = [(1, 1), (1, 300), (7, 13), (257, 31), (130, 1), (64, 300)]

    @Test("every OpenCL version matches the Swift float64 formula", .enabled(if: TestBackends.hasOpenCL),
          arguments: Oclgrind.cases(variantShapes) { $0.0 * $0.1 })
    func variantsMatchFormula(_ s: (Int, Int)) throws {
        let cl = TestBackends.openCL!
        var rng = SeededRandom(seed: UInt64(s.0 * 17 + s.1))
        let scores = rng.uniform(s.0 * s.1)
        for (epsilon, iterations) in [(0.05, 3), (0.01, 1), (0.05, 5)] {
            let expected = swavSinkhorn(scores, b: s.0, k: s.1, epsilon: epsilon, iterations: iterations)
            for variant in SinkhornVariant.allCases {
                let q = try cl.sinkhorn(try cl.upload(scores, shape: [s.0, s.1]), epsilon: Float(epsilon),
                                        iterations: iterations, variant: variant)
                let tol = Self.tolerance(epsilon)
                assertClose(try cl.download(q), expected, shape: q.shape, expectedShape: [s.0, s.1], rtol: tol, atol: tol,
                            "\(variant) \(s) ε \(epsilon) × \(iterations)")
            }
        }
    }

    @Test("every OpenCL version stays finite at |S|/ε ≈ 1000 and 1200 and agrees with the reference",
          .enabled(if: TestBackends.hasOpenCL), arguments: [(Float(0.001), Float(1)), (Float(0.05), Float(60))])
    func variantsStable(_ c: (Float, Float)) throws {
        let cl = TestBackends.openCL!, (b, k) = Oclgrind.isRunning ? (37, 11) : (97, 41)
        var rng = SeededRandom(seed: 9)
        let scores = rng.uniform(b * k, scale: c.1)
        let reference = try TestBackends.reference.download(
            try TestBackends.reference.sinkhorn(try TestBackends.reference.upload(scores, shape: [b, k]), epsilon: c.0, iterations: 10))
        for variant in SinkhornVariant.allCases {
            let q = try cl.download(try cl.sinkhorn(try cl.upload(scores, shape: [b, k]), epsilon: c.0, iterations: 10, variant: variant))
            #expect(q.allSatisfy { $0.isFinite && $0 >= 0 }, "\(variant)")
            // As stableWhereExpOverflows: exponents of ~1000 carry ~1000·2⁻²⁴ each.
            assertClose(q, reference.map(Double.init), shape: [b, k], expectedShape: [b, k], rtol: 2e-3, atol: 2e-3,
                        "\(variant) at ε \(c.0), |S| ≤ \(c.1)")
        }
    }

    @Test("the automatic choice is one group for small B·K and one pass above (without a tuning file)",
          .enabled(if: TestBackends.hasOpenCL))
    func automaticVariant() throws {
        let cl = untunedOpenCL!
        #expect(cl.automaticSinkhornVariant(b: 32, k: 100) == .oneGroup)
        #expect(cl.automaticSinkhornVariant(b: 256, k: 3000) == .onePass)
        #expect(cl.automaticSinkhornVariant(b: 1, k: cl.sinkhornOneGroupMaxElements + 1) == .onePass)
        #expect(OpenCLBackend(context: cl.context, kernels: KernelChoices(sinkhorn: .twoPass)).kernels.sinkhorn == .twoPass)
    }

    @Test("one group is an error naming both sizes when the duals exceed local memory", .enabled(if: TestBackends.hasOpenCL))
    func oneGroupTooLarge() throws {
        let cl = TestBackends.openCL!
        let k = cl.device.localMemoryBytes / 4 + 1
        let error = #expect(throws: SSLError.self) {
            _ = try cl.sinkhorn(try cl.zeros([1, k]), epsilon: 0.05, iterations: 1, variant: .oneGroup)
        }
        #expect(error?.description.contains("B + K = 1 + \(k)") == true, "\(String(describing: error))")
    }

    @Test("more iterations approach the prototype marginals 1/K")
    func converges() throws {
        let (b, k) = (40, 8)
        var rng = SeededRandom(seed: 3)
        let scores = rng.uniform(b * k)
        try forEachBackend { backend in
            let q = try backend.download(try backend.sinkhorn(try backend.upload(scores, shape: [b, k]),
                                                              epsilon: 0.05, iterations: 100))
            for j in 0..<k {
                let mass = (0..<b).reduce(Float(0)) { $0 + q[$1 * k + j] } / Float(b)
                #expect(abs(mass - 1 / Float(k)) < 1e-4, "\(backend.name) prototype \(j) mass \(mass)")
            }
        }
    }

    @Test("bad epsilon, iterations or rank are errors")
    func badArguments() throws {
        try forEachBackend { backend in
            let s = try backend.zeros([3, 4])
            #expect(throws: SSLError.self) { try backend.sinkhorn(s, epsilon: 0, iterations: 3) }
            #expect(throws: SSLError.self) { try backend.sinkhorn(s, epsilon: .nan, iterations: 3) }
            #expect(throws: SSLError.self) { try backend.sinkhorn(s, epsilon: 0.05, iterations: 0) }
            #expect(throws: SSLError.self) { try backend.sinkhorn(try s.reshaped([12]), epsilon: 0.05, iterations: 3) }
            let tiny = #expect(throws: SSLError.self) { try backend.sinkhorn(s, epsilon: 1e-45, iterations: 3) }
            #expect(tiny?.description.contains("the smallest whose reciprocal float32 holds") == true, "\(String(describing: tiny))")
        }
    }

    /// At ε → 0 the codes approach a hard assignment, but not everywhere: where M + α of two
    /// prototypes differ by the O(1) log terms, a row splits between them (0.167/0.833 exactly).
    /// Once |S|/ε leaves M + α no digits at that scale (float32 from ~1e-8 on, Double from ~1e-15)
    /// those splits round differently, so the backends are not compared here; each must still give
    /// finite codes in [0, 1] whose every row sums to 1.
    @Test("tiny ε: finite codes in [0, 1], every row summing to 1, on every backend",
          arguments: [Float(1e-6), 1e-12, 1e-17, 1e-30])
    func tinyEpsilon(_ epsilon: Float) throws {
        let (b, k) = (13, 7)
        var rng = SeededRandom(seed: 99)
        let scores = rng.uniform(b * k)
        try forEachBackend { backend in
            let q = try backend.download(try backend.sinkhorn(try backend.upload(scores, shape: [b, k]), epsilon: epsilon, iterations: 3))
            #expect(q.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 }, "\(backend.name) ε \(epsilon)")
            for i in 0..<b {
                let row = q[(i * k)..<((i + 1) * k)].reduce(0, +)
                #expect(abs(row - 1) < 1e-5, "\(backend.name) ε \(epsilon): row \(i) sums to \(row)")
            }
        }
    }
}
