// Barlow Twins: the hand-derived backward of both forms against finite differences and each
// other, OpenCL's D×D and Gram forms against the reference, both backends against the official
// PyTorch code's fixtures, the lazy C, the errors and `ssl loss barlow`.
import Foundation
import Testing
@testable import SSLCore

/// The scale float32 gradient errors are measured against: rstd · max|dY|, what enters the
/// batch-norm backward. That backward removes dY's projections on 1 and on y; at N = 2 these
/// cancel all but O(eps/var) of dY (each column of y is ±1 up to eps), so the true gradient is
/// ~1e-6 while float32 rounding stays ~1e-7 of rstd · |dY|. At larger N the gradient is of the
/// order of this scale, so the bound is the usual relative one there.
private func gradientScale(_ z1: [Float], _ z2: [Float], n: Int, d: Int, lambda: Float, eps: Float) -> Double {
    let (_, cache) = BarlowTwinsReference.forward(z1: z1.map(Double.init), z2: z2.map(Double.init), n: n, d: d,
                                                  lambda: Double(lambda), eps: Double(eps))
    let dC = BarlowTwinsReference.lossBackward(c: cache.c, d: d, lambda: cache.lambda)
    let (dY1, dY2) = BarlowTwinsReference.correlationBackward(cache, dC: dC)
    let rstd = (cache.rstd1 + cache.rstd2).max()!
    return rstd * (dY1 + dY2).map(abs).max()!
}

/// ``gradientScale(_:_:n:d:lambda:eps:)`` of a fixture case's inputs.
private func gradientScale(of fixture: RedundancyCase) throws -> Double {
    let z1 = try fixture.input("z1"), z2 = try fixture.input("z2")
    return gradientScale(z1.values, z2.values, n: z1.shape[0], d: z1.shape[1],
                         lambda: Float(try fixture.expected("lambda").values[0]), eps: BarlowTwinsReference.defaultEps)
}

private func maxAbs(_ values: [Double]) -> Double { values.map(abs).max() ?? 0 }

@Suite struct BarlowTwinsTests {
    /// (N, D, λ, eps, dLoss). N = 2 uses a large eps: with BatchNorm1d's 1e-5 its gradient is
    /// O(eps) and finite differences could not tell a wrong backward from a right one.
    static let gradientCases: [(Int, Int, Double, Double, Double)] = [
        (2, 3, 0.0051, 0.5, 1), (3, 4, 0.0051, 1e-5, 1), (5, 4, 0.5, 1e-5, 1), (6, 7, 0.0051, 1e-5, 0.5),
    ]

    @Test("backward matches finite differences for z1 and z2", arguments: gradientCases)
    func gradient(_ s: (Int, Int, Double, Double, Double)) {
        let (n, d, lambda, eps, dLoss) = s
        var rng = SeededRandom(seed: UInt64(n * 100 + d))
        let z1 = rng.view(n, d).map(Double.init), z2 = rng.view(n, d).map(Double.init)
        func loss(_ a: [Double], _ b: [Double]) -> Double {
            dLoss * BarlowTwinsReference.forward(z1: a, z2: b, n: n, d: d, lambda: lambda, eps: eps).loss
        }
        let (_, cache) = BarlowTwinsReference.forward(z1: z1, z2: z2, n: n, d: d, lambda: lambda, eps: eps)
        let (dZ1, dZ2) = BarlowTwinsReference.backward(cache, dLoss: dLoss)
        // The check's allowance is 1e-6 · max(1, max|grad|); these gradients are O(0.01–1).
        #expect(maxAbs(dZ1 + dZ2) > 1e-3, "gradient too small for the check to mean anything")
        checkGradient("barlow dZ1 \(s)", at: z1, analytic: dZ1) { loss($0, z2) }
        checkGradient("barlow dZ2 \(s)", at: z2, analytic: dZ2) { loss(z1, $0) }
    }

    /// The Gram form's own derivation, checked against finite differences of its own forward, and
    /// both against the definition: in Double they agree to rounding (1e-10 relative), at N < D
    /// and N ≥ D alike.
    @Test("the Gram form's backward matches finite differences, and both match the definition",
          arguments: gradientCases + [(9, 3, 0.0051, 1e-5, 1)])
    func gramGradient(_ s: (Int, Int, Double, Double, Double)) {
        let (n, d, lambda, eps, dLoss) = s
        var rng = SeededRandom(seed: UInt64(n * 100 + d))
        let z1 = rng.view(n, d).map(Double.init), z2 = rng.view(n, d).map(Double.init)
        func loss(_ a: [Double], _ b: [Double]) -> Double {
            dLoss * BarlowTwinsReference.gramForward(z1: a, z2: b, n: n, d: d, lambda: lambda, eps: eps).loss
        }
        let (gramLoss, gram) = BarlowTwinsReference.gramForward(z1: z1, z2: z2, n: n, d: d, lambda: lambda, eps: eps)
        let (dZ1, dZ2) = BarlowTwinsReference.gramBackward(gram, dLoss: dLoss)
        checkGradient("barlow Gram dZ1 \(s)", at: z1, analytic: dZ1) { loss($0, z2) }
        checkGradient("barlow Gram dZ2 \(s)", at: z2, analytic: dZ2) { loss(z1, $0) }

        let (definitionLoss, cache) = BarlowTwinsReference.forward(z1: z1, z2: z2, n: n, d: d, lambda: lambda, eps: eps)
        let definition = BarlowTwinsReference.backward(cache, dLoss: dLoss)
        #expect(abs(gramLoss - definitionLoss) <= 1e-10 * definitionLoss, "\(gramLoss) vs \(definitionLoss)")
        let scale = maxAbs(definition.dZ1 + definition.dZ2)
        #expect(maxAbs(zip(dZ1 + dZ2, definition.dZ1 + definition.dZ2).map { $0 - $1 }) <= 1e-10 * scale)
    }

    /// Inside the loss mean_n(dY) vanishes, so the batch-norm backward gets a dY of its own here,
    /// with non-zero column means: ⟨w, BN(x)⟩ for a random w.
    @Test("batch-norm backward matches finite differences and its kernel for any dY", arguments: [(2, 3), (7, 13)])
    func batchNormGradient(_ s: (Int, Int)) throws {
        let (n, d) = s
        var rng = SeededRandom(seed: UInt64(n * 17 + d))
        let x = rng.view(n, d).map(Double.init), w = rng.view(n, d).map(Double.init)
        let eps = 1e-5
        let (y, rstd) = BarlowTwinsReference.batchNorm(x, n: n, d: d, eps: eps)
        let dX = BarlowTwinsReference.batchNormBackward(y: y, rstd: rstd, dY: w, n: n, d: d)
        checkGradient("batchNormBackward \(s)", at: x, analytic: dX) {
            dot(w, BarlowTwinsReference.batchNorm($0, n: n, d: d, eps: eps).y)
        }
        guard let cl = TestBackends.openCL else { return }
        let bn = try cl.standardizeColumns(try cl.upload(x.map(Float.init), shape: [n, d]), eps: Float(eps))
        let dXcl = try cl.batchNormBackward(bn, try cl.upload(w.map(Float.init), shape: [n, d]), n: n, d: d)
        // As in parity below: float32 errors against rstd · max|dY|.
        let scale = rstd.max()! * w.map(abs).max()!
        assertClose(try cl.download(dXcl), dX, shape: dXcl.shape, expectedShape: [n, d], rtol: 1e-4,
                    atol: 1e-5 * scale, "batchNormBackward kernel \(s)")
    }

    @Test("the loss is Σ(1 − C_ii)² + λ Σ_{i≠j} C_ij² of the returned C, on every backend")
    func lossOfC() throws {
        var rng = SeededRandom(seed: 5)
        let (n, d) = (9, 4)
        let z1 = rng.view(n, d), z2 = rng.view(n, d)
        try forEachBackend { backend in
            let r = try backend.barlowTwins(try backend.upload(z1, shape: [n, d]), try backend.upload(z2, shape: [n, d]),
                                            lambda: 0.25, eps: 1e-5)
            let c = try backend.download(try r.c).map(Double.init)
            var expected = 0.0
            for i in 0..<d { for j in 0..<d { expected += i == j ? (1 - c[i * d + j]) * (1 - c[i * d + j]) : 0.25 * c[i * d + j] * c[i * d + j] } }
            let cShape = try r.c.shape
            #expect(r.loss.shape == [] && cShape == [d, d] && r.dZ1.shape == [n, d] && r.dZ2.shape == [n, d])
            #expect(abs(Double(try backend.download(r.loss)[0]) - expected) <= 1e-5 * expected, "\(backend.name)")
        }
    }

    /// N < D and N ≥ D, primes and sizes off CLBlast's and the kernels' tiles, D up to 200.
    static let shapes: [(Int, Int)] = [(2, 3), (7, 13), (33, 65), (2, 200), (65, 13), (130, 200), (130, 3)]

    @Test("OpenCL's D×D and Gram forms match the reference's definition", .enabled(if: TestBackends.hasOpenCL),
          arguments: Oclgrind.cases(shapes, limit: 500) { max($0.0 * $0.1, $0.1 * $0.1) })
    func parity(_ s: (Int, Int)) throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        let (n, d) = s
        var rng = SeededRandom(seed: UInt64(n * 31 + d))
        let z1 = rng.view(n, d), z2 = rng.view(n, d)
        let lambda: Float = 0.0051, eps: Float = 1e-5
        func run(_ backend: any Backend, _ form: RedundancyForm) throws -> BarlowTwinsResult {
            try backend.barlowTwins(try backend.upload(z1, shape: [n, d]), try backend.upload(z2, shape: [n, d]),
                                    lambda: lambda, eps: eps, form: form)
        }
        let expected = try run(ref, .automatic)
        #expect(expected.form == .feature, "the reference computes the definition")
        let scale = gradientScale(z1, z2, n: n, d: d, lambda: lambda, eps: eps)
        for form in [RedundancyForm.feature, .gram] {
            let r = try run(cl, form)
            #expect(r.form == form)
            // Loss: a sum of D² float32 squares of |C| ≤ 1 (D×D), or of D diagonal terms and the
            // N² products ⟨G1, G2⟩ (Gram) whose off-diagonal share exceeds the diagonal's at these
            // random views; relative error a few 1e-7 either way. C: means of N float32 products
            // of unit-variance values, errors ~√N·6e-8 ≤ 1e-6 here.
            try assertClose(r.loss, on: cl, expected.loss, on: ref, rtol: 1e-4, atol: 0, "loss \(form) \(s)")
            try assertClose(try r.c, on: cl, try expected.c, on: ref, rtol: 1e-4, atol: 1e-5, "C \(form) \(s)")
            // Gradients: against the batch-norm backward's input scale (see gradientScale); the
            // Gram form's dY is the same sum regrouped, (2λ/N²) G2 Y1 + Y2 diag(δ)/N.
            try assertClose(r.dZ1, on: cl, expected.dZ1, on: ref, rtol: 1e-4, atol: 1e-5 * scale, "dZ1 \(form) \(s)")
            try assertClose(r.dZ2, on: cl, expected.dZ2, on: ref, rtol: 1e-4, atol: 1e-5 * scale, "dZ2 \(form) \(s)")
        }
    }

    @Test("auto is the Gram form on a device exactly when N < D (without a tuning file), the definition on the reference")
    func automaticForm() throws {
        #expect(RedundancyForm.preferred(n: 7, d: 8) == .gram && RedundancyForm.preferred(n: 8, d: 8) == .feature)
        #expect(RedundancyForm.gram.resolved(n: 9, d: 2) == .gram && RedundancyForm.automatic.resolved(n: 2, d: 9) == .gram)
        for backend in untunedBackends {
            for (n, d) in [(3, 5), (5, 3)] {
                let r = try backend.barlowTwins(try backend.zeros([n, d]), try backend.zeros([n, d]), lambda: 0.0051, eps: 1e-5)
                let expected: RedundancyForm = backend.kind == .openCL && n < d ? .gram : .feature
                #expect(r.form == expected, "\(backend.name) N \(n) D \(d)")
            }
        }
    }

    /// On a device whose buffers must stay below D²·4 bytes, the Gram form runs and the D×D form
    /// cannot: C is allocated only when read.
    @Test("the Gram form never allocates a D×D buffer unless C is read", .enabled(if: TestBackends.hasOpenCL))
    func gramAllocatesNoDByD() throws {
        let (n, d) = (7, 200)
        let capped = try #require(try TestBackends.openCL(maxAllocationBytes: d * d * 4 - 4))
        var rng = SeededRandom(seed: 3)
        let z1 = try capped.upload(rng.view(n, d), shape: [n, d]), z2 = try capped.upload(rng.view(n, d), shape: [n, d])
        let r = try capped.barlowTwins(z1, z2, lambda: 0.0051, eps: 1e-5, form: .gram)
        let expected = try TestBackends.reference.barlowTwins(
            try TestBackends.reference.upload(try capped.download(z1), shape: [n, d]),
            try TestBackends.reference.upload(try capped.download(z2), shape: [n, d]), lambda: 0.0051, eps: 1e-5)
        try assertClose(r.loss, on: capped, expected.loss, on: TestBackends.reference, rtol: 1e-4, atol: 0, "loss")
        #expect(throwsAllocationTooLarge { _ = try r.c })
        #expect(throwsAllocationTooLarge { _ = try capped.barlowTwins(z1, z2, lambda: 0.0051, eps: 1e-5, form: .feature) })
    }

    @Test("the Gram form's C is made on first read, equals the cross-correlation, and is the same tensor after",
          .enabled(if: TestBackends.hasOpenCL))
    func lazyC() throws {
        let cl = TestBackends.openCL!
        var rng = SeededRandom(seed: 4)
        let (n, d) = (5, 9)
        let z1 = try cl.upload(rng.view(n, d), shape: [n, d]), z2 = try cl.upload(rng.view(n, d), shape: [n, d])
        let r = try cl.barlowTwins(z1, z2, lambda: 0.0051, eps: 1e-5, form: .gram)
        let first = try r.c, second = try r.c
        #expect(first.deviceBuffer === second.deviceBuffer)
        // The same GEMM on the same batch-normalised views: equal to float32 rounding.
        try assertClose(first, on: cl, try cl.crossCorrelation(z1, z2, eps: 1e-5), on: cl, rtol: 1e-6, atol: 1e-7, "C")
    }

    @Test("loss, C and gradients match the official PyTorch code", arguments: RedundancyCase.tags)
    func matchesOfficial(_ tag: String) throws {
        let fixture = RedundancyCase(method: "barlowtwins", tag: tag)
        let lambda = Float(try fixture.expected("lambda").values[0])
        let scale = try gradientScale(of: fixture)
        try forEachBackend { backend in
            let (a, b) = try fixture.views(on: backend)
            let r = try backend.barlowTwins(a, b, lambda: lambda, eps: BarlowTwinsReference.defaultEps)
            try checkOutputs(["loss": r.loss, "c": try r.c, "grad_z1": r.dZ1, "grad_z2": r.dZ2].mapValues {
                (try backend.download($0), $0.shape)
            }, fixture, kind: backend.kind, gradientScale: scale, backend.name)
        }
    }

    @Test("mismatched shapes, a batch of one and bad λ or eps are the same errors on every backend")
    func errors() throws {
        var messages: [[String]] = []
        for backend in allBackends {
            func error(_ s1: [Int], _ s2: [Int], lambda: Float = 0.0051, eps: Float = 1e-5) -> String {
                let thrown = #expect(throws: SSLError.self) {
                    _ = try backend.barlowTwins(try backend.zeros(s1), try backend.zeros(s2), lambda: lambda, eps: eps)
                }
                return thrown?.description ?? ""
            }
            let found = [error([4, 3], [4, 5]), error([1, 3], [1, 3]), error([4, 3], [12]),
                         error([4, 3], [4, 3], lambda: -1), error([4, 3], [4, 3], lambda: .nan), error([4, 3], [4, 3], eps: -1)]
            #expect(found[0].contains("z1 is (4, 3)") && found[0].contains("z2 is (4, 5)"), "\(found[0])")
            #expect(found[1].contains("batch size N = 1"), "\(found[1])")
            #expect(found[2].contains("z2") && found[2].contains("(12,)"), "\(found[2])")
            #expect(found[3].contains("lambda") && found[5].contains("eps"), "\(found)")
            messages.append(found)
        }
        #expect(Set(messages.map { $0.joined(separator: "|") }).count == 1, "the backends disagree: \(messages)")
    }

    @Test("ssl loss barlow writes the official values on every device")
    func command() throws {
        let folder = try RedundancyCLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for device in RedundancyCLI.devices {
            // n16d24 is N < D (auto is the Gram form on a device), n8d5 N ≥ D; --form forces either.
            for (tag, extra) in [("n16d24", [String]()), ("n8d5", ["--lambda", "0.5"]),
                                 ("n8d5", ["--lambda", "0.5", "--form", "gram"]), ("n16d24", ["--form", "feature"])] {
                let fixture = RedundancyCase(method: "barlowtwins", tag: tag)
                let out = folder.appendingPathComponent("\(tag)-\(device)-\(extra.joined())")
                try RedundancyCLI.run(["loss", "barlow", "--z1", fixture.path("z1"), "--z2", fixture.path("z2")] + extra
                                      + ["--out", out.path, "--device", device])
                let outputs = try Dictionary(uniqueKeysWithValues: ["loss", "c", "grad_z1", "grad_z2"].map {
                    ($0, try RedundancyCLI.output(out, $0))
                })
                try checkOutputs(outputs, fixture, kind: device == "reference" ? .reference : .openCL,
                                 gradientScale: try gradientScale(of: fixture), "ssl loss barlow \(tag) \(extra) on \(device)")
            }
        }
    }

    /// Compares outputs with the fixture within 1e-4 relative. The reference (Double inside,
    /// rounded once to float32) also gets an absolute 1e-6 of each array's largest value; float32
    /// OpenCL gets 1e-4 of it, and for gradients 1e-5 of `gradientScale`.
    private func checkOutputs(_ outputs: [String: (values: [Float], shape: [Int])], _ fixture: RedundancyCase,
                              kind: BackendKind, gradientScale: Double, _ what: String) throws {
        for (item, output) in outputs.sorted(by: { $0.key < $1.key }) {
            let expected = try fixture.expected(item)
            let atol: Double
            switch (kind, item.hasPrefix("grad")) {
            case (.reference, _): atol = 1e-6 * maxAbs(expected.values)
            case (.openCL, false): atol = 1e-4 * maxAbs(expected.values)
            case (.openCL, true): atol = 1e-5 * gradientScale
            }
            assertClose(output.values, expected.values, shape: output.shape, expectedShape: expected.shape,
                        rtol: 1e-4, atol: atol, "\(item) of \(fixture.tag) \(what)")
        }
    }
}
