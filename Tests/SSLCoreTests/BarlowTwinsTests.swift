// Barlow Twins: the hand-derived backward against finite differences, OpenCL against the
// reference, both against the official PyTorch code's fixtures, the errors and `ssl loss barlow`.
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
        let bn = try cl.batchNorm(try cl.upload(x.map(Float.init), shape: [n, d]), eps: Float(eps))
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
            let c = try backend.download(r.c).map(Double.init)
            var expected = 0.0
            for i in 0..<d { for j in 0..<d { expected += i == j ? (1 - c[i * d + j]) * (1 - c[i * d + j]) : 0.25 * c[i * d + j] * c[i * d + j] } }
            #expect(r.loss.shape == [] && r.c.shape == [d, d] && r.dZ1.shape == [n, d] && r.dZ2.shape == [n, d])
            #expect(abs(Double(try backend.download(r.loss)[0]) - expected) <= 1e-5 * expected, "\(backend.name)")
        }
    }

    static let shapes: [(Int, Int)] = [(2, 3), (7, 13), (33, 65)]

    @Test("OpenCL matches the reference", .enabled(if: TestBackends.hasOpenCL), arguments: shapes)
    func parity(_ s: (Int, Int)) throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        let (n, d) = s
        var rng = SeededRandom(seed: UInt64(n * 31 + d))
        let z1 = rng.view(n, d), z2 = rng.view(n, d)
        let lambda: Float = 0.0051, eps: Float = 1e-5
        let results = try [ref, cl].map { (backend: any Backend) in
            try backend.barlowTwins(try backend.upload(z1, shape: [n, d]), try backend.upload(z2, shape: [n, d]),
                                    lambda: lambda, eps: eps)
        }
        // Loss: a sum of D² float32 squares of |C| ≤ 1, relative error a few 1e-7. C: means of N
        // float32 products of unit-variance values, errors ~√N·6e-8 ≤ 1e-6 here.
        try assertClose(results[1].loss, on: cl, results[0].loss, on: ref, rtol: 1e-4, atol: 0, "loss \(s)")
        try assertClose(results[1].c, on: cl, results[0].c, on: ref, rtol: 1e-4, atol: 1e-5, "C \(s)")
        // Gradients: against the batch-norm backward's input scale (see gradientScale).
        let scale = gradientScale(z1, z2, n: n, d: d, lambda: lambda, eps: eps)
        try assertClose(results[1].dZ1, on: cl, results[0].dZ1, on: ref, rtol: 1e-4, atol: 1e-5 * scale, "dZ1 \(s)")
        try assertClose(results[1].dZ2, on: cl, results[0].dZ2, on: ref, rtol: 1e-4, atol: 1e-5 * scale, "dZ2 \(s)")
    }

    @Test("loss, C and gradients match the official PyTorch code", arguments: RedundancyCase.tags)
    func matchesOfficial(_ tag: String) throws {
        let fixture = RedundancyCase(method: "barlowtwins", tag: tag)
        let lambda = Float(try fixture.expected("lambda").values[0])
        let scale = try gradientScale(of: fixture)
        try forEachBackend { backend in
            let (a, b) = try fixture.views(on: backend)
            let r = try backend.barlowTwins(a, b, lambda: lambda, eps: BarlowTwinsReference.defaultEps)
            try checkOutputs(["loss": r.loss, "c": r.c, "grad_z1": r.dZ1, "grad_z2": r.dZ2].mapValues {
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
            for (tag, extra) in [("n16d24", [String]()), ("n8d5", ["--lambda", "0.5"])] {
                let fixture = RedundancyCase(method: "barlowtwins", tag: tag)
                let out = folder.appendingPathComponent("\(tag)-\(device)")
                try RedundancyCLI.run(["loss", "barlow", "--z1", fixture.path("z1"), "--z2", fixture.path("z2")] + extra
                                      + ["--out", out.path, "--device", device])
                let outputs = try Dictionary(uniqueKeysWithValues: ["loss", "c", "grad_z1", "grad_z2"].map {
                    ($0, try RedundancyCLI.output(out, $0))
                })
                try checkOutputs(outputs, fixture, kind: device == "reference" ? .reference : .openCL,
                                 gradientScale: try gradientScale(of: fixture), "ssl loss barlow \(tag) on \(device)")
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
