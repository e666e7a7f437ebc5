// SimCLR NT-Xent: finite differences, OpenCL parity, the official code's values, errors, CLI.
import Foundation
import Testing
@testable import SSLCore

@Suite struct NTXentTests {
    @Test("backward matches finite differences for z1 and z2", arguments: [(1, 2, 0.1), (2, 3, 0.1), (4, 5, 0.5)])
    func gradient(_ s: (Int, Int, Double)) {
        let (n, d, t) = s
        var rng = SeededRandom(seed: UInt64(n * 10 + d))
        let z1 = rng.doubles(n * d, scale: 2), z2 = rng.doubles(n * d)
        let (_, cache) = NTXentReference.forward(z1: z1, z2: z2, n: n, d: d, temperature: t)
        let (dZ1, dZ2) = NTXentReference.backward(cache)
        checkGradient("NT-Xent dZ1 \(s)", at: z1, analytic: dZ1) {
            NTXentReference.forward(z1: $0, z2: z2, n: n, d: d, temperature: t).loss
        }
        checkGradient("NT-Xent dZ2 \(s)", at: z2, analytic: dZ2) {
            NTXentReference.forward(z1: z1, z2: $0, n: n, d: d, temperature: t).loss
        }
    }

    @Test("N = 1: each row's only other column is its partner, so the loss is 0")
    func singlePair() throws {
        try forEachBackend { backend in
            let r = try backend.ntXent(try backend.upload([1, 2, 3], shape: [1, 3]),
                                       try backend.upload([-1, 0, 2], shape: [1, 3]), temperature: 0.1)
            #expect(r.loss.shape == [])
            #expect(abs(try backend.download(r.loss)[0]) < 1e-6)
            #expect(try backend.download(r.dZ1).allSatisfy { abs($0) < 1e-5 })
        }
    }

    /// Float32 against the Double reference: the similarities carry ~√D·2⁻²⁴ relative rounding,
    /// amplified by 1/T = 10 in the logits, so the loss agrees to ~1e-6 relative and the
    /// gradients, sums of 2N such terms, to well within 1e-4 of their largest entry.
    @Test("OpenCL matches the reference", .enabled(if: TestBackends.hasOpenCL),
          arguments: [(2, 3), (7, 13), (33, 65)])
    func parity(_ s: (Int, Int)) throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        var rng = SeededRandom(seed: UInt64(s.0 * 1000 + s.1))
        let z1 = rng.uniform(s.0 * s.1, scale: 2), z2 = rng.uniform(s.0 * s.1)
        let results = try [ref, cl].map { (b: any Backend) in
            try b.ntXent(try b.upload(z1, shape: [s.0, s.1]), try b.upload(z2, shape: [s.0, s.1]), temperature: 0.1)
        }
        try assertClose(results[1].loss, on: cl, results[0].loss, on: ref, rtol: 1e-5, atol: 1e-6, "loss \(s)")
        for (name, pick) in [("dZ1", \NTXentResult.dZ1), ("dZ2", \NTXentResult.dZ2)] {
            let scale = Double(try ref.download(results[0][keyPath: pick]).map(abs).max() ?? 1)
            try assertClose(results[1][keyPath: pick], on: cl, results[0][keyPath: pick], on: ref,
                            rtol: 1e-4, atol: 1e-4 * scale, "\(name) \(s)")
        }
    }

    @Test("matches SimCLR's add_contrastive_loss (halved) on every backend", arguments: ["2x3", "8x17"])
    func officialValues(_ tag: String) throws {
        try forEachBackend { backend in
            let r = try backend.ntXent(try ContrastiveFixtures.tensor("ntxent_\(tag)_z1", on: backend),
                                       try ContrastiveFixtures.tensor("ntxent_\(tag)_z2", on: backend),
                                       temperature: Float(try ContrastiveFixtures.scalar("ntxent_\(tag)_temperature")))
            try ContrastiveFixtures.expectClose(r.loss, on: backend, "ntxent_\(tag)_loss")
            try ContrastiveFixtures.expectClose(r.dZ1, on: backend, "ntxent_\(tag)_grad_z1")
            try ContrastiveFixtures.expectClose(r.dZ2, on: backend, "ntxent_\(tag)_grad_z2")
        }
    }

    @Test("mismatched views, empty batches and bad temperatures are the same error on every backend")
    func errors() {
        expectSameError(["z1", "(2, 3)", "z2", "(3, 3)"]) { b in
            _ = try b.ntXent(try b.zeros([2, 3]), try b.zeros([3, 3]), temperature: 0.1)
        }
        expectSameError(["z1", "(0, 3)", "empty"]) { b in
            _ = try b.ntXent(try b.zeros([0, 3]), try b.zeros([0, 3]), temperature: 0.1)
        }
        expectSameError(["z2", "matrix"]) { b in _ = try b.ntXent(try b.zeros([2, 3]), try b.zeros([6]), temperature: 0.1) }
        for t: Float in [0, -0.1, .infinity, .nan] {
            expectSameError(["temperature"]) { b in
                _ = try b.ntXent(try b.zeros([2, 3]), try b.zeros([2, 3]), temperature: t)
            }
        }
    }

    @Test("ssl loss ntxent writes the official values on every device")
    func cli() throws {
        let path: (String) -> String = { Fixtures.path("losses/ntxent_8x17_\($0)") }
        try ContrastiveFixtures.runCLI(["ntxent", "--z1", path("z1"), "--z2", path("z2"), "--temperature", "0.5"]) { out, _ in
            for name in ["loss", "grad_z1", "grad_z2"] {
                try ContrastiveFixtures.expectFile(out + "/\(name).npy", "ntxent_8x17_\(name)")
            }
        }
    }
}
