// BYOL: the Double reference against finite differences, both backends against the official
// code (deepmind-research byol, float64 fixtures), OpenCL against the reference, the EMA
// schedule and update, bad inputs, and `ssl loss byol`.
import Foundation
import Testing
@testable import SSLCore

@Suite struct BYOLTests {
    @Test("the reference gradient dP matches finite differences", arguments: [(2, 3), (5, 7)])
    func gradient(_ s: (Int, Int)) {
        var rng = SeededRandom(seed: UInt64(s.0 * 10 + s.1))
        let p = rng.doubles(s.0 * s.1, scale: 2), z = rng.doubles(s.0 * s.1)
        let dP = BYOLReference.backward(BYOLReference.forward(p: p, z: z, n: s.0, d: s.1).cache)
        checkGradient("byol dP \(s)", at: p, analytic: dP) { BYOLReference.forward(p: $0, z: z, n: s.0, d: s.1).loss }
    }

    @Test("matches the official regression_loss (float64 fixtures) on every backend", arguments: ["n2d3", "n8d17"])
    func official(_ tag: String) throws {
        try forEachBackend { backend in
            let r = try backend.byol(p: try DistillationFixtures.tensor("byol_\(tag)_p", on: backend),
                                     z: try DistillationFixtures.tensor("byol_\(tag)_z", on: backend))
            #expect(r.loss.shape == [])
            try DistillationFixtures.expectMatches(r.loss, on: backend, "byol_\(tag)_loss")
            try DistillationFixtures.expectMatches(r.dP, on: backend, "byol_\(tag)_grad_p")
        }
    }

    /// Float32 sums of D ≤ 300 terms and a mean of ≤ 33 rows carry ~√D·2⁻²⁴ ≈ 1e-6 relative error;
    /// 1e-4 of the largest magnitude leaves margin.
    @Test("OpenCL matches the reference", .enabled(if: TestBackends.hasOpenCL),
          arguments: [(2, 3), (7, 13), (33, 65), (3, 300)])
    func parity(_ s: (Int, Int)) throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        var rng = SeededRandom(seed: UInt64(s.0 * 100 + s.1))
        let p = rng.uniform(s.0 * s.1, scale: 2), z = rng.uniform(s.0 * s.1)
        let results = try ([ref, cl] as [any Backend]).map { backend in
            try backend.byol(p: try backend.upload(p, shape: [s.0, s.1]), z: try backend.upload(z, shape: [s.0, s.1]))
        }
        try DistillationFixtures.expectParity(results[1].loss, on: cl, results[0].loss, on: ref, rtol: 1e-4, "loss \(s)")
        try DistillationFixtures.expectParity(results[1].dP, on: cl, results[0].dP, on: ref, rtol: 1e-4, "dP \(s)")
    }

    /// A zero row is divided by eps instead of its norm: p̂ = 0, the row's loss is ‖ẑ‖² = 1 and
    /// dP = dp̂ / eps = −2ẑ / (N·1e-12), about 1e11. Compared element by element (1e-4 relative,
    /// 1e-6 absolute), since the clamped row dwarfs the others.
    @Test("zero rows in p and z: the clamped normalisation agrees on both backends")
    func zeroRows() throws {
        let (n, d) = (3, 5)
        var rng = SeededRandom(seed: 35)
        var p = rng.uniform(n * d, scale: 2), z = rng.uniform(n * d)
        for j in 0..<d { p[j] = 0; z[2 * d + j] = 0 }
        let results = try allBackends.map { backend in
            try backend.byol(p: try backend.upload(p, shape: [n, d]), z: try backend.upload(z, shape: [n, d]))
        }
        let ref = TestBackends.reference
        let zHat = L2Normalize.forward(z.map(Double.init), rows: n, cols: d, eps: 1e-12)
        let dP0 = try ref.download(results[0].dP).prefix(d).map(Double.init)
        #expect(zip(dP0, zHat).allSatisfy { abs($0 + 2 * $1 / (Double(n) * 1e-12)) <= 1e-6 * abs($0) }, "\(dP0)")
        for (backend, r) in zip(allBackends, results).dropFirst() {
            try assertClose(r.loss, on: backend, results[0].loss, on: ref, rtol: 1e-4, atol: 1e-6, "loss on \(backend.kind)")
            try assertClose(r.dP, on: backend, results[0].dP, on: ref, rtol: 1e-4, atol: 1e-6, "dP on \(backend.kind)")
        }
    }

    @Test("shape errors name both inputs, identically on every backend")
    func errors() throws {
        let cases: [([Int], [Int], String)] = [
            ([2, 3], [3, 3], "p is (2, 3) but z is (3, 3)"),
            ([6], [6], "p must be a matrix, got shape (6,)"),
            ([2, 3], [2, 3, 1], "z must be a matrix"),
            ([0, 3], [0, 3], "p (0, 3) is empty"),
        ]
        for (pShape, zShape, message) in cases {
            let texts = try allBackends.map { backend in
                let p = try backend.zeros(pShape), z = try backend.zeros(zShape)
                return DistillationFixtures.errorText { try backend.byol(p: p, z: z) }
            }
            #expect(texts[0]?.contains(message) == true, "\(texts[0] ?? "no error")")
            #expect(Set(texts).count == 1, "\(texts)")
        }
    }

    @Test("the EMA schedule is the official target_ema: 0.996 at step 0, 1 from step K on")
    func emaSchedule() throws {
        let expected = try DistillationFixtures.expected("byol_ema_tau").values  // steps 0…120, K = 100
        let schedule = try EMASchedule(base: 0.996)
        let tau = try (0..<expected.count).map { try schedule.momentum(step: $0, totalSteps: 100) }
        #expect(zip(tau, expected).allSatisfy { abs($0 - $1) <= 1e-15 }, "\(tau.prefix(3)) vs \(expected.prefix(3))")
        #expect(tau[0] == 0.996 && tau[100] == 1 && tau[120] == 1)
        #expect(throws: SSLError.self) { try schedule.momentum(step: 1, totalSteps: 0) }
        #expect(throws: SSLError.self) { try schedule.momentum(step: -1, totalSteps: 10) }
        #expect(throws: SSLError.self) { try EMASchedule(base: 1.5) }
    }

    /// τ is passed as Float (6e-8 relative) and the update runs in float32: 1e-6 absolute for O(1) values.
    @Test("the EMA update of a list of tensors matches x + (1 − τ)(y − x); a bad list changes nothing")
    func emaUpdate() throws {
        let tau = Float(try EMASchedule(base: 0.996).momentum(step: 37, totalSteps: 100))
        try forEachBackend { backend in
            let teacher = try (0..<2).map { try DistillationFixtures.tensor("byol_ema_teacher\($0)", on: backend) }
            let online = try (0..<2).map { try DistillationFixtures.tensor("byol_ema_online\($0)", on: backend) }
            let before = try backend.download(teacher[0])

            #expect(throws: SSLError.self) { try backend.emaUpdate(teacher: teacher, online: [online[0]], momentum: tau) }
            let swapped = [online[0], online[0]]
            let error = #expect(throws: SSLError.self) { try backend.emaUpdate(teacher: teacher, online: swapped, momentum: tau) }
            #expect(error?.description.contains("online[1] is (3, 5) but teacher[1] is (7,)") == true, "\(String(describing: error))")
            #expect(throws: SSLError.self) { try backend.emaUpdate(teacher: teacher, online: online, momentum: 1.5) }
            #expect(try backend.download(teacher[0]) == before)

            try backend.emaUpdate(teacher: teacher, online: online, momentum: tau)
            for i in 0..<2 {
                let e = try DistillationFixtures.expected("byol_ema_teacher\(i)_next")
                assertClose(try backend.download(teacher[i]), e.values, shape: teacher[i].shape, expectedShape: e.shape,
                            rtol: 0, atol: 1e-6, "EMA teacher[\(i)] on \(backend.kind)")
            }
        }
    }

    @Test("ssl loss byol writes loss and grad_p matching the official code on every device")
    func cli() throws {
        for device in DistillationFixtures.devices {
            let folder = try DistillationFixtures.runLoss(
                ["byol", "--p", Fixtures.path("losses/byol_n8d17_p"), "--z", Fixtures.path("losses/byol_n8d17_z")],
                device: device)
            defer { try? FileManager.default.removeItem(at: folder) }
            try DistillationFixtures.expectOutput(folder, "loss", matches: "byol_n8d17_loss", device)
            try DistillationFixtures.expectOutput(folder, "grad_p", matches: "byol_n8d17_grad_p", device)
        }
    }
}
