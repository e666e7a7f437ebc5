// OpenCL optimizer kernels against the Double reference on odd sizes, and the argument errors
// both backends throw identically, leaving every tensor unchanged.
import Foundation
import Testing
@testable import SSLCore

@Suite struct OptimizerParityTests {
    /// The sizes: 1, a prime, one off any tile, and more than 64 groups' worth of one work-group.
    static let sizes = [1, 7, 1000, 4099]

    /// One state of parameter, gradients for three steps, and zero-started state tensors, uploaded
    /// to both backends.
    struct Run {
        let backends: [any Backend]
        let p: [Tensor], state: [[Tensor]], grads: [[Tensor]]

        init(count: Int, slots: Int, seed: UInt64) throws {
            let cl = TestBackends.openCL!, ref = TestBackends.reference
            backends = [ref, cl]
            var rng = SeededRandom(seed: seed)
            let p0 = rng.uniform(count, scale: 2)
            let g = (0..<3).map { _ in rng.uniform(count) }
            p = try backends.map { try $0.upload(p0, shape: [count]) }
            state = try backends.map { b in try (0..<slots).map { _ in try b.zeros([count]) } }
            grads = try backends.map { b in try g.map { try b.upload($0, shape: [count]) } }
        }

        /// OpenCL within `atol` of the reference's largest magnitude, per tensor.
        func expectParity(rtol: Double, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            for (i, (a, e)) in zip([p[1]] + state[1], [p[0]] + state[0]).enumerated() {
                let expected = try backends[0].download(e).map(Double.init)
                let scale = expected.map(abs).max() ?? 0
                assertClose(try backends[1].download(a), expected, shape: a.shape, expectedShape: e.shape, rtol: rtol,
                            atol: rtol * scale, "\(what) tensor \(i)", sourceLocation: sourceLocation)
            }
        }
    }

    /// Element-wise float32 against Double-then-rounded: a few ulps per step on O(1) values, and
    /// the momentum sums carry them over three steps; 1e-6 relative is ten times that.
    @Test("SGD: OpenCL matches the reference over three steps", .enabled(if: TestBackends.hasOpenCL),
          arguments: sizes, [false, true])
    func sgd(_ count: Int, _ nesterov: Bool) throws {
        let run = try Run(count: count, slots: 1, seed: UInt64(count))
        for t in 0..<3 {
            for (b, backend) in run.backends.enumerated() {
                try backend.sgdUpdate(run.p[b], gradient: run.grads[b][t], momentumBuffer: run.state[b][0], lr: 0.1 / Double(t + 1),
                                      options: SGDOptions(momentum: 0.9, weightDecay: 0.01, nesterov: nesterov))
            }
        }
        try run.expectParity(rtol: 1e-6, "SGD \(count) nesterov=\(nesterov)")
    }

    /// The trust ratio comes from float32 sums of ≤ 4099 squares in 64 × 2^k partial sums:
    /// ~1e-6 relative, which scales every element of mu; 1e-5 relative leaves margin.
    @Test("LARS: OpenCL matches the reference over three steps, adapted or not", .enabled(if: TestBackends.hasOpenCL),
          arguments: sizes, [true, false])
    func lars(_ count: Int, _ adapt: Bool) throws {
        let run = try Run(count: count, slots: 1, seed: UInt64(count) + 10)
        for t in 0..<3 {
            for (b, backend) in run.backends.enumerated() {
                try backend.larsUpdate(run.p[b], gradient: run.grads[b][t], momentumBuffer: run.state[b][0], lr: 2,
                                       options: LARSOptions(weightDecay: 0.05, eta: 0.02), adapt: adapt)
            }
        }
        try run.expectParity(rtol: 1e-5, "LARS \(count) adapt=\(adapt)")
    }

    /// m/(√v/√bc₂ + ε) is a ratio of O(|g|) terms, each a few ulps off; times lr ≤ 1e-2 its error
    /// in p is ~1e-9, and m, v are element-wise as SGD's buffer: 1e-6 relative.
    @Test("AdamW: OpenCL matches the reference over three steps", .enabled(if: TestBackends.hasOpenCL), arguments: sizes)
    func adamW(_ count: Int) throws {
        let run = try Run(count: count, slots: 2, seed: UInt64(count) + 20)
        for t in 0..<3 {
            for (b, backend) in run.backends.enumerated() {
                try backend.adamWUpdate(run.p[b], gradient: run.grads[b][t], firstMoment: run.state[b][0],
                                        secondMoment: run.state[b][1], lr: 1e-2, step: t + 1, options: AdamWOptions(weightDecay: 0.04))
            }
        }
        try run.expectParity(rtol: 1e-6, "AdamW \(count)")
    }

    /// A float32 sum of 5107 squares: ~1e-6 relative; 1e-5 for the norm and the clipped values.
    @Test("global norm and clipping: OpenCL matches the reference on [1, 7, 1000, 4099]", .enabled(if: TestBackends.hasOpenCL))
    func clip() throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        var rng = SeededRandom(seed: 99)
        let values = Self.sizes.map { rng.uniform($0) }
        let tensors = try ([ref, cl] as [any Backend]).map { b in try values.map { try b.upload($0, shape: [$0.count]) } }
        let norms = try zip([ref, cl] as [any Backend], tensors).map { try $0.clipGlobalNorm($1, maxNorm: 3) }
        let expectedNorm = OptimizerReference.norm(values.map { $0.map(Double.init) })
        #expect(abs(Double(try ref.download(norms[0])[0]) - expectedNorm) <= 1e-6 * expectedNorm)
        #expect(abs(Double(try cl.download(norms[1])[0]) - expectedNorm) <= 1e-5 * expectedNorm)
        for (a, e) in zip(tensors[1], tensors[0]) {
            try assertClose(a, on: cl, e, on: ref, rtol: 1e-5, atol: 1e-7, "clipped \(a.shape)")
        }
    }

    // MARK: - Errors

    /// Runs `body` on every backend; returns each error's text (nil where nothing was thrown).
    private func errorTexts(_ body: (any Backend) throws -> Void) -> [String?] {
        allBackends.map { backend in
            do { try body(backend) } catch { return "\(error)" }
            return nil
        }
    }

    @Test("bad learning rates, shapes, hyperparameters and steps throw the same errors and write nothing")
    func errors() throws {
        typealias Case = (String, (any Backend, Tensor, Tensor, Tensor, Tensor) throws -> Void)
        let cases: [Case] = [
            ("the learning rate must be a non-negative finite number, got -0.1",
             { b, p, g, s, _ in try b.sgdUpdate(p, gradient: g, momentumBuffer: s, lr: -0.1, options: SGDOptions()) }),
            ("the learning rate must be a non-negative finite number, got nan",
             { b, p, g, s, _ in
                 try b.larsUpdate(p, gradient: g, momentumBuffer: s, lr: .nan, options: LARSOptions(), adapt: true) }),
            ("gradient is (4,) but parameter is (3,)",
             { b, p, _, s, _ in
                 try b.sgdUpdate(p, gradient: try b.zeros([4]), momentumBuffer: s, lr: 0.1, options: SGDOptions()) }),
            ("momentum buffer is (2, 2) but parameter is (3,)",
             { b, p, g, _, _ in
                 try b.larsUpdate(p, gradient: g, momentumBuffer: try b.zeros([2, 2]), lr: 0.1, options: LARSOptions(), adapt: true) }),
            ("second moment is (1,) but parameter is (3,)",
             { b, p, g, s, _ in
                 try b.adamWUpdate(p, gradient: g, firstMoment: s, secondMoment: try b.zeros([1]), lr: 0.1, step: 1, options: AdamWOptions()) }),
            ("Nesterov momentum needs a momentum above 0",
             { b, p, g, s, _ in
                 try b.sgdUpdate(p, gradient: g, momentumBuffer: s, lr: 0.1, options: SGDOptions(momentum: 0, nesterov: true)) }),
            ("weight decay must be a non-negative finite number, got -1.0",
             { b, p, g, s, _ in
                 try b.larsUpdate(p, gradient: g, momentumBuffer: s, lr: 0.1, options: LARSOptions(weightDecay: -1), adapt: false) }),
            ("beta2 must lie in [0, 1), got 1.0",
             { b, p, g, m, v in
                 try b.adamWUpdate(p, gradient: g, firstMoment: m, secondMoment: v, lr: 0.1, step: 1, options: AdamWOptions(beta2: 1)) }),
            ("the step count must be at least 1 (the first step is 1), got 0",
             { b, p, g, m, v in
                 try b.adamWUpdate(p, gradient: g, firstMoment: m, secondMoment: v, lr: 0.1, step: 0, options: AdamWOptions()) }),
            ("the maximum norm must be a positive finite number, got 0.0",
             { b, _, g, _, _ in _ = try b.clipGlobalNorm([g], maxNorm: 0) }),
        ]
        for (message, body) in cases {
            var unchanged = true
            let texts = errorTexts { backend in
                let p = try backend.upload([1, 2, 3], shape: [3]), g = try backend.upload([1, 1, 1], shape: [3])
                let s1 = try backend.upload([0.5, 0.5, 0.5], shape: [3]), s2 = try backend.upload([0.5, 0.5, 0.5], shape: [3])
                defer {
                    let now = try? [p, g, s1, s2].map { try backend.download($0) }
                    unchanged = unchanged && now == [[1, 2, 3], [1, 1, 1], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]
                }
                try body(backend, p, g, s1, s2)
            }
            #expect(texts[0]?.contains(message) == true, "\(texts[0] ?? "no error") should contain '\(message)'")
            #expect(Set(texts).count == 1, "\(texts)")
            #expect(unchanged, "\(message): a tensor changed")
        }
    }

    @Test("a tensor from the other backend is refused before anything is written", .enabled(if: TestBackends.hasOpenCL))
    func wrongBackend() throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        let p = try ref.upload([1, 2], shape: [2]), g = try ref.upload([1, 1], shape: [2])
        let foreign = try cl.zeros([2])
        #expect(throws: SSLError.self) { try ref.sgdUpdate(p, gradient: g, momentumBuffer: foreign, lr: 0.1, options: SGDOptions()) }
        #expect(throws: SSLError.self) { try cl.larsUpdate(foreign, gradient: g, momentumBuffer: foreign, lr: 0.1,
                                                             options: LARSOptions(), adapt: true) }
        #expect(throws: SSLError.self) { _ = try cl.clipGlobalNorm([foreign, g], maxNorm: 1) }
        #expect(try ref.download(p) == [1, 2] && (try cl.download(foreign)) == [0, 0])
    }
}
