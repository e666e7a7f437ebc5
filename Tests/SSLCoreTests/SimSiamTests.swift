// SimSiam: the Double reference against finite differences, both backends against the official
// code (facebookresearch/simsiam main_simsiam.py, float64 fixtures), OpenCL against the reference,
// the eps convention, bad inputs, and `ssl loss simsiam`.
import Foundation
import Testing
@testable import SSLCore

@Suite struct SimSiamTests {
    @Test("the reference gradients dP1, dP2 match finite differences", arguments: [(2, 3), (5, 7)])
    func gradient(_ s: (Int, Int)) {
        var rng = SeededRandom(seed: UInt64(s.0 * 10 + s.1))
        let count = s.0 * s.1
        let p1 = rng.doubles(count, scale: 2), p2 = rng.doubles(count), z1 = rng.doubles(count), z2 = rng.doubles(count)
        let loss = { (p1: [Double], p2: [Double]) in
            SimSiamReference.forward(p1: p1, p2: p2, z1: z1, z2: z2, n: s.0, d: s.1).loss
        }
        let (dP1, dP2) = SimSiamReference.backward(
            SimSiamReference.forward(p1: p1, p2: p2, z1: z1, z2: z2, n: s.0, d: s.1).cache)
        checkGradient("simSiam dP1 \(s)", at: p1, analytic: dP1) { loss($0, p2) }
        checkGradient("simSiam dP2 \(s)", at: p2, analytic: dP2) { loss(p1, $0) }
    }

    @Test("matches the official nn.CosineSimilarity loss (float64 fixtures) on every backend",
          arguments: ["n2d3", "n8d17"])
    func official(_ tag: String) throws {
        try forEachBackend { backend in
            let input = { (name: String) in try DistillationFixtures.tensor("simsiam_\(tag)_\(name)", on: backend) }
            let r = try backend.simSiam(p1: try input("p1"), p2: try input("p2"), z1: try input("z1"), z2: try input("z2"))
            #expect(r.loss.shape == [])
            try DistillationFixtures.expectMatches(r.loss, on: backend, "simsiam_\(tag)_loss")
            try DistillationFixtures.expectMatches(r.dP1, on: backend, "simsiam_\(tag)_grad_p1")
            try DistillationFixtures.expectMatches(r.dP2, on: backend, "simsiam_\(tag)_grad_p2")
        }
    }

    /// As for BYOL: float32 row sums of ≤ 300 terms carry ~√D·2⁻²⁴ relative error; 1e-4 of the
    /// largest magnitude leaves margin.
    @Test("OpenCL matches the reference", .enabled(if: TestBackends.hasOpenCL),
          arguments: [(2, 3), (7, 13), (33, 65), (3, 300)])
    func parity(_ s: (Int, Int)) throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        var rng = SeededRandom(seed: UInt64(s.0 * 100 + s.1))
        let inputs = (0..<4).map { rng.uniform(s.0 * s.1, scale: Float($0 + 1)) }
        let results = try ([ref, cl] as [any Backend]).map { backend in
            let t = try inputs.map { try backend.upload($0, shape: [s.0, s.1]) }
            return try backend.simSiam(p1: t[0], p2: t[1], z1: t[2], z2: t[3])
        }
        try DistillationFixtures.expectParity(results[1].loss, on: cl, results[0].loss, on: ref, rtol: 1e-4, "loss \(s)")
        try DistillationFixtures.expectParity(results[1].dP1, on: cl, results[0].dP1, on: ref, rtol: 1e-4, "dP1 \(s)")
        try DistillationFixtures.expectParity(results[1].dP2, on: cl, results[0].dP2, on: ref, rtol: 1e-4, "dP2 \(s)")
    }

    /// Rows of norm 1e-5 and 1.4e-5: ‖x‖·‖y‖ = 1.4e-10 is below ε = 1e-8, but each norm is above it.
    /// PyTorch 2.x clamps each norm (cos = 1/√2, what torch 2.15 returns); the documented
    /// `x·y / max(‖x‖·‖y‖, ε)` would give 0.01. Both backends follow PyTorch 2.x.
    @Test("each norm is clamped separately at 1e-8, as PyTorch 2.x's CosineSimilarity")
    func epsConvention() throws {
        try forEachBackend { backend in
            let p = try backend.upload([1e-5, 0, 0], shape: [1, 3]), z = try backend.upload([1e-5, 1e-5, 0], shape: [1, 3])
            let r = try backend.simSiam(p1: p, p2: p, z1: z, z2: z)
            let loss = try backend.download(r.loss)[0]
            #expect(abs(Double(loss) + 0.5.squareRoot()) < 1e-6, "\(loss) on \(backend.kind)")
        }
    }

    @Test("shape errors name both inputs, identically on every backend")
    func errors() throws {
        let good = [2, 3]
        let cases: [([[Int]], String)] = [
            ([[2, 3], [2, 4], good, good], "p1 is (2, 3) but p2 is (2, 4)"),
            ([good, good, [3, 3], good], "p1 is (2, 3) but z1 is (3, 3)"),
            ([good, good, good, [6]], "z2 must be a matrix, got shape (6,)"),
            ([[0, 3], [0, 3], [0, 3], [0, 3]], "p1 (0, 3) is empty"),
        ]
        for (shapes, message) in cases {
            let texts = try allBackends.map { backend in
                let t = try shapes.map { try backend.zeros($0) }
                return DistillationFixtures.errorText { try backend.simSiam(p1: t[0], p2: t[1], z1: t[2], z2: t[3]) }
            }
            #expect(texts[0]?.contains(message) == true, "\(texts[0] ?? "no error")")
            #expect(Set(texts).count == 1, "\(texts)")
        }
    }

    @Test("ssl loss simsiam writes loss, grad_p1 and grad_p2 matching the official code on every device")
    func cli() throws {
        let input = { (name: String) in Fixtures.path("losses/simsiam_n8d17_\(name)") }
        for device in DistillationFixtures.devices {
            let folder = try DistillationFixtures.runLoss(
                ["simsiam", "--p1", input("p1"), "--p2", input("p2"), "--z1", input("z1"), "--z2", input("z2")],
                device: device)
            defer { try? FileManager.default.removeItem(at: folder) }
            for output in ["loss", "grad_p1", "grad_p2"] {
                try DistillationFixtures.expectOutput(folder, output, matches: "simsiam_n8d17_\(output)", device)
            }
        }
    }
}
