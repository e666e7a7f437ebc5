// VICReg: the hand-derived backward of both forms against finite differences (each term and the
// sum) and each other, the hinge's subgradient, OpenCL's D×D and Gram forms against the
// reference, both backends against the official PyTorch code's fixtures, the errors and
// `ssl loss vicreg`.
import Foundation
import Testing
@testable import SSLCore

private func maxAbs(_ values: [Double]) -> Double { values.map(abs).max() ?? 0 }

/// Every σ of both views, to check test data stays off the hinge's kink at σ = 1.
private func stds(_ z1: [Double], _ z2: [Double], n: Int, d: Int) -> [Double] {
    VICRegReference.view(z1, n: n, d: d).std + VICRegReference.view(z2, n: n, d: d).std
}

/// (‖K1‖²_F + ‖K2‖²_F) / D: the two sums whose difference is the Gram form's covariance term, the
/// scale of its float32 rounding (which cancels less the more the off-diagonal part dominates).
private func covarianceSquares(_ z1: [Double], _ z2: [Double], n: Int, d: Int) -> Double {
    [z1, z2].map { z in
        guard case .covariance(let k) = VICRegReference.view(z, n: n, d: d).secondMoment else { return .nan }
        return k.reduce(0) { $0 + $1 * $1 }
    }.reduce(0, +) / Double(d)
}

@Suite struct VICRegTests {
    /// (N, D, sim, std, cov): each term alone, then the paper's weights.
    static let gradientCases: [(Int, Int, Double, Double, Double)] = [
        (2, 3, 25, 25, 1), (5, 4, 1, 0, 0), (5, 4, 0, 1, 0), (5, 4, 0, 0, 1), (6, 7, 25, 25, 1),
    ]

    @Test("backward matches finite differences for z1 and z2", arguments: gradientCases)
    func gradient(_ s: (Int, Int, Double, Double, Double)) {
        let (n, d) = (s.0, s.1)
        let w = VICRegReference.Coefficients(sim: s.2, std: s.3, cov: s.4)
        var rng = SeededRandom(seed: UInt64(n * 100 + d))
        let z1 = rng.view(n, d).map(Double.init), z2 = rng.view(n, d).map(Double.init)
        // Off the kink by far more than the step, and the hinge both active and inactive.
        let sigma = stds(z1, z2, n: n, d: d)
        #expect(sigma.allSatisfy { abs($0 - 1) > 1e-2 } && sigma.contains { $0 < 1 } && sigma.contains { $0 > 1 }, "\(sigma)")
        func loss(_ a: [Double], _ b: [Double]) -> Double {
            VICRegReference.forward(z1: a, z2: b, n: n, d: d, coefficients: w).loss
        }
        let (_, _, cache) = VICRegReference.forward(z1: z1, z2: z2, n: n, d: d, coefficients: w)
        let (dZ1, dZ2) = VICRegReference.backward(cache)
        #expect(maxAbs(dZ1 + dZ2) > 1e-2, "gradient too small for the check to mean anything")
        checkGradient("vicreg dZ1 \(s)", at: z1, analytic: dZ1) { loss($0, z2) }
        checkGradient("vicreg dZ2 \(s)", at: z2, analytic: dZ2) { loss(z1, $0) }
    }

    /// The Gram form's own derivation against finite differences of its own forward, and both
    /// against the definition: in Double they agree to rounding (1e-10 relative).
    @Test("the Gram form's backward matches finite differences, and both match the definition",
          arguments: gradientCases + [(9, 3, 25, 25, 1)])
    func gramGradient(_ s: (Int, Int, Double, Double, Double)) {
        let (n, d) = (s.0, s.1)
        let w = VICRegReference.Coefficients(sim: s.2, std: s.3, cov: s.4)
        var rng = SeededRandom(seed: UInt64(n * 100 + d))
        let z1 = rng.view(n, d).map(Double.init), z2 = rng.view(n, d).map(Double.init)
        func loss(_ a: [Double], _ b: [Double]) -> Double {
            VICRegReference.forward(z1: a, z2: b, n: n, d: d, coefficients: w, form: .gram).loss
        }
        let gram = VICRegReference.forward(z1: z1, z2: z2, n: n, d: d, coefficients: w, form: .gram)
        let (dZ1, dZ2) = VICRegReference.backward(gram.cache)
        checkGradient("vicreg Gram dZ1 \(s)", at: z1, analytic: dZ1) { loss($0, z2) }
        checkGradient("vicreg Gram dZ2 \(s)", at: z2, analytic: dZ2) { loss(z1, $0) }

        let definition = VICRegReference.forward(z1: z1, z2: z2, n: n, d: d, coefficients: w)
        let (e1, e2) = VICRegReference.backward(definition.cache)
        for (a, b) in zip(gram.parts, definition.parts) { #expect(abs(a - b) <= 1e-10 * max(abs(b), 1), "\(gram.parts) vs \(definition.parts)") }
        #expect(maxAbs(zip(dZ1 + dZ2, e1 + e2).map { $0 - $1 }) <= 1e-10 * maxAbs(e1 + e2))
    }

    @Test("the hinge's subgradient at σ = 1 exactly is 0, as in PyTorch")
    func hingeKink() {
        // Two features, N = 3: σ = 1 (the kink), σ = 0.5 (active); no covariance term.
        let v = VICRegReference.View(centred: [1, 2, -1, -1, 0, -1], variance: [1, 0.25], std: [1, 0.5],
                                     secondMoment: .covariance([0, 0, 0, 0]))
        let dZ = VICRegReference.viewBackward(v, n: 3, d: 2, stdWeight: 1, covWeight: 0)
        #expect(dZ[0] == 0 && dZ[2] == 0 && dZ[4] == 0)
        // ∂v/∂z_n1 = −x̄_n1 / (2D (N − 1) σ) = −x̄_n1 / 4.
        #expect(dZ[1] == -0.5 && dZ[3] == 0.25 && dZ[5] == 0.25)
    }

    @Test("the loss is the weighted sum of the parts, on every backend")
    func lossOfParts() throws {
        var rng = SeededRandom(seed: 8)
        let (n, d) = (9, 4)
        let z1 = rng.view(n, d), z2 = rng.view(n, d)
        try forEachBackend { backend in
            let r = try backend.vicreg(try backend.upload(z1, shape: [n, d]), try backend.upload(z2, shape: [n, d]),
                                       simCoeff: 2, stdCoeff: 3, covCoeff: 5)
            let p = try backend.download(r.parts).map(Double.init)
            let expected = 2 * p[0] + 3 * p[1] + 5 * p[2]
            #expect(r.loss.shape == [] && r.parts.shape == [3] && r.dZ1.shape == [n, d] && r.dZ2.shape == [n, d])
            #expect(abs(Double(try backend.download(r.loss)[0]) - expected) <= 1e-5 * expected, "\(backend.name)")
        }
    }

    /// N < D and N ≥ D, primes and sizes off CLBlast's tiles, D up to 200.
    static let shapes: [(Int, Int)] = [(2, 3), (7, 13), (33, 65), (2, 200), (65, 13), (130, 200), (130, 3)]

    @Test("OpenCL's D×D and Gram forms match the reference's definition", .enabled(if: TestBackends.hasOpenCL),
          arguments: Oclgrind.cases(shapes, limit: 500) { max($0.0 * $0.1, $0.1 * $0.1) })
    func parity(_ s: (Int, Int)) throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        let (n, d) = s
        var rng = SeededRandom(seed: UInt64(n * 31 + d))
        let z1 = rng.view(n, d), z2 = rng.view(n, d)
        // float32 σ is within ~1e-6 of Double's: data nearer the kink could flip the hinge.
        #expect(stds(z1.map(Double.init), z2.map(Double.init), n: n, d: d).allSatisfy { abs($0 - 1) > 1e-3 })
        func run(_ backend: any Backend, _ form: RedundancyForm) throws -> VICRegResult {
            try backend.vicreg(try backend.upload(z1, shape: [n, d]), try backend.upload(z2, shape: [n, d]),
                               simCoeff: 25, stdCoeff: 25, covCoeff: 1, form: form)
        }
        let expected = try run(ref, .automatic)
        #expect(expected.form == .feature, "the reference computes the definition")
        let squares = covarianceSquares(z1.map(Double.init), z2.map(Double.init), n: n, d: d)
        for form in [RedundancyForm.feature, .gram] {
            let r = try run(cl, form)
            #expect(r.form == form)
            // Loss and parts: float32 sums of N·D, D² or N² non-negative terms, relative error
            // ~1e-6. The Gram form's covariance is ‖K1‖² + ‖K2‖² − Σ K_jj² over D: its rounding
            // is 1e-6 of those sums, which exceed the result by far where N ≫ D (at 130×3 the
            // diagonal holds all but 1e-4 of them); hence the absolute 1e-5 · covarianceSquares.
            let atol = form == .gram ? 1e-5 * squares : 0
            try assertClose(r.loss, on: cl, expected.loss, on: ref, rtol: 1e-4, atol: atol, "loss \(form) \(s)")
            try assertClose(r.parts, on: cl, expected.parts, on: ref, rtol: 1e-4, atol: atol, "parts \(form) \(s)")
            // Gradients: sums of three terms of either sign (the covariance one a float32 GEMM over
            // D or N), so small entries are measured against the largest: 1e-5 of max|dZ|.
            for (name, k) in [("dZ1", \VICRegResult.dZ1), ("dZ2", \VICRegResult.dZ2)] {
                let scale = maxAbs(try ref.download(expected[keyPath: k]).map(Double.init))
                try assertClose(r[keyPath: k], on: cl, expected[keyPath: k], on: ref, rtol: 1e-4,
                                atol: 1e-5 * scale, "\(name) \(form) \(s)")
            }
        }
    }

    @Test("auto is the Gram form on a device exactly when N < D (without a tuning file), the definition on the reference")
    func automaticForm() throws {
        for backend in untunedBackends {
            for (n, d) in [(3, 5), (5, 3)] {
                let r = try backend.vicreg(try backend.zeros([n, d]), try backend.zeros([n, d]), simCoeff: 25, stdCoeff: 25,
                                           covCoeff: 1)
                let expected: RedundancyForm = backend.kind == .openCL && n < d ? .gram : .feature
                #expect(r.form == expected, "\(backend.name) N \(n) D \(d)")
            }
        }
    }

    /// On a device whose buffers must stay below D²·4 bytes the Gram form runs, the D×D form cannot.
    @Test("the Gram form never allocates a D×D buffer", .enabled(if: TestBackends.hasOpenCL))
    func gramAllocatesNoDByD() throws {
        let (n, d) = (7, 200)
        let capped = try #require(try TestBackends.openCL(maxAllocationBytes: d * d * 4 - 4))
        var rng = SeededRandom(seed: 5)
        let v1 = rng.view(n, d), v2 = rng.view(n, d)
        let z1 = try capped.upload(v1, shape: [n, d]), z2 = try capped.upload(v2, shape: [n, d])
        let r = try capped.vicreg(z1, z2, simCoeff: 25, stdCoeff: 25, covCoeff: 1, form: .gram)
        let ref = TestBackends.reference
        let expected = try ref.vicreg(try ref.upload(v1, shape: [n, d]), try ref.upload(v2, shape: [n, d]),
                                      simCoeff: 25, stdCoeff: 25, covCoeff: 1)
        try assertClose(r.parts, on: capped, expected.parts, on: ref, rtol: 1e-4, atol: 0, "parts")
        #expect(throwsAllocationTooLarge {
            _ = try capped.vicreg(z1, z2, simCoeff: 25, stdCoeff: 25, covCoeff: 1, form: .feature)
        })
    }

    @Test("loss, parts and gradients match the official PyTorch code", arguments: RedundancyCase.tags)
    func matchesOfficial(_ tag: String) throws {
        let fixture = RedundancyCase(method: "vicreg", tag: tag)
        let w = try fixture.expected("coeffs").values.map(Float.init)
        try forEachBackend { backend in
            let (a, b) = try fixture.views(on: backend)
            let r = try backend.vicreg(a, b, simCoeff: w[0], stdCoeff: w[1], covCoeff: w[2])
            try checkOutputs(["loss": r.loss, "parts": r.parts, "grad_z1": r.dZ1, "grad_z2": r.dZ2].mapValues {
                (try backend.download($0), $0.shape)
            }, fixture, kind: backend.kind, backend.name)
        }
    }

    @Test("mismatched shapes, a batch of one and bad coefficients are the same errors on every backend")
    func errors() throws {
        var messages: [[String]] = []
        for backend in allBackends {
            func error(_ s1: [Int], _ s2: [Int], sim: Float = 25, std: Float = 25, cov: Float = 1) -> String {
                let thrown = #expect(throws: SSLError.self) {
                    _ = try backend.vicreg(try backend.zeros(s1), try backend.zeros(s2), simCoeff: sim, stdCoeff: std, covCoeff: cov)
                }
                return thrown?.description ?? ""
            }
            let found = [error([4, 3], [5, 3]), error([1, 3], [1, 3]), error([2, 3, 1], [2, 3]),
                         error([4, 3], [4, 3], sim: -1), error([4, 3], [4, 3], std: .infinity), error([4, 3], [4, 3], cov: .nan)]
            #expect(found[0].contains("z1 is (4, 3)") && found[0].contains("z2 is (5, 3)"), "\(found[0])")
            #expect(found[1].contains("batch size N = 1"), "\(found[1])")
            #expect(found[2].contains("z1") && found[2].contains("(2, 3, 1)"), "\(found[2])")
            #expect(found[3].contains("simCoeff") && found[4].contains("stdCoeff") && found[5].contains("covCoeff"), "\(found)")
            messages.append(found)
        }
        #expect(Set(messages.map { $0.joined(separator: "|") }).count == 1, "the backends disagree: \(messages)")
    }

    @Test("ssl loss vicreg writes the official values on every device")
    func command() throws {
        let folder = try RedundancyCLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let custom = ["--sim-coeff", "1.5", "--std-coeff", "4", "--cov-coeff", "10"]
        for device in RedundancyCLI.devices {
            // n16d24 is N < D (auto is the Gram form on a device), n8d5 N ≥ D; --form forces either.
            for (tag, extra) in [("n16d24", [String]()), ("n8d5", custom), ("n8d5", custom + ["--form", "gram"]),
                                 ("n16d24", ["--form", "feature"])] {
                let fixture = RedundancyCase(method: "vicreg", tag: tag)
                let out = folder.appendingPathComponent("\(tag)-\(device)-\(extra.joined())")
                try RedundancyCLI.run(["loss", "vicreg", "--z1", fixture.path("z1"), "--z2", fixture.path("z2")] + extra
                                      + ["--out", out.path, "--device", device])
                let outputs = try Dictionary(uniqueKeysWithValues: ["loss", "parts", "grad_z1", "grad_z2"].map {
                    ($0, try RedundancyCLI.output(out, $0))
                })
                try checkOutputs(outputs, fixture, kind: device == "reference" ? .reference : .openCL,
                                 "ssl loss vicreg \(tag) \(extra) on \(device)")
            }
        }
    }

    /// Compares outputs with the fixture within 1e-4 relative, plus an absolute allowance of each
    /// array's largest value for entries near zero: 1e-6 on the reference (Double inside, rounded
    /// once to float32), 1e-5 on float32 OpenCL.
    private func checkOutputs(_ outputs: [String: (values: [Float], shape: [Int])], _ fixture: RedundancyCase,
                              kind: BackendKind, _ what: String) throws {
        for (item, output) in outputs.sorted(by: { $0.key < $1.key }) {
            let expected = try fixture.expected(item)
            let atol = (kind == .reference ? 1e-6 : 1e-5) * maxAbs(expected.values)
            assertClose(output.values, expected.values, shape: output.shape, expectedShape: expected.shape,
                        rtol: 1e-4, atol: atol, "\(item) of \(fixture.tag) \(what)")
        }
    }
}
