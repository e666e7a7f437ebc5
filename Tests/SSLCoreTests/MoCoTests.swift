// MoCo: finite differences, OpenCL parity, builder.py's values (loss, queue, momentum update),
// errors, CLI.
import Foundation
import Testing
@testable import SSLCore

@Suite struct MoCoTests {
    /// A queue of K normalised rows.
    static func queue(_ k: Int, _ d: Int, _ rng: inout SeededRandom) -> [Double] {
        L2Normalize.forward(rng.doubles(k * d), rows: k, cols: d, eps: 1e-12)
    }

    @Test("backward matches finite differences for q", arguments: [(1, 2, 1, 0.2), (2, 3, 5, 0.2), (3, 4, 7, 0.07)])
    func gradient(_ s: (Int, Int, Int, Double)) {
        let (n, d, k, t) = s
        var rng = SeededRandom(seed: UInt64(n * 100 + d * 10 + k))
        let q = rng.doubles(n * d, scale: 2), keys = rng.doubles(n * d), queue = Self.queue(k, d, &rng)
        let (_, cache) = MoCoReference.forward(q: q, k: keys, queue: queue, n: n, d: d, queueSize: k, temperature: t)
        checkGradient("MoCo dQ \(s)", at: q, analytic: MoCoReference.backward(cache)) {
            MoCoReference.forward(q: $0, k: keys, queue: queue, n: n, d: d, queueSize: k, temperature: t).loss
        }
    }

    /// Float32 against Double: logits carry ~√D·2⁻²⁴ relative rounding times 1/T = 5, so the
    /// loss agrees to ~1e-6 and dQ (a sum over 1 + K keys) to within 1e-4 of its largest entry.
    @Test("OpenCL matches the reference", .enabled(if: TestBackends.hasOpenCL),
          arguments: Oclgrind.cases([(2, 3, 5), (7, 13, 20), (33, 65, 129)]) { $0.2 * $0.1 })
    func parity(_ s: (Int, Int, Int)) throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        var rng = SeededRandom(seed: UInt64(s.0 * 10_000 + s.1 * 100 + s.2))
        let q = rng.uniform(s.0 * s.1, scale: 2), k = rng.uniform(s.0 * s.1)
        let queue = Self.queue(s.2, s.1, &rng).map(Float.init)
        let results = try [ref, cl].map { (b: any Backend) in
            try b.moco(q: try b.upload(q, shape: [s.0, s.1]), k: try b.upload(k, shape: [s.0, s.1]),
                       queue: try b.upload(queue, shape: [s.2, s.1]), temperature: 0.2)
        }
        try assertClose(results[1].loss, on: cl, results[0].loss, on: ref, rtol: 1e-5, atol: 1e-6, "loss \(s)")
        let scale = Double(try ref.download(results[0].dQ).map(abs).max() ?? 1)
        try assertClose(results[1].dQ, on: cl, results[0].dQ, on: ref, rtol: 1e-4, atol: 1e-4 * scale, "dQ \(s)")
    }

    @Test("matches builder.py's logits + CrossEntropyLoss on every backend", arguments: ["2x3", "8x17"])
    func officialValues(_ tag: String) throws {
        try forEachBackend { b in
            let r = try b.moco(q: try ContrastiveFixtures.tensor("moco_\(tag)_q", on: b),
                               k: try ContrastiveFixtures.tensor("moco_\(tag)_k", on: b),
                               queue: try ContrastiveFixtures.tensor("moco_\(tag)_queue", on: b),
                               temperature: Float(try ContrastiveFixtures.scalar("moco_\(tag)_temperature")))
            try ContrastiveFixtures.expectClose(r.loss, on: b, "moco_\(tag)_loss")
            try ContrastiveFixtures.expectClose(r.dQ, on: b, "moco_\(tag)_grad_q")
        }
    }

    @Test("enqueue matches builder.py's _dequeue_and_enqueue, and wraps where the official asserts")
    func enqueue() throws {
        try forEachBackend { b in
            let queue = try ContrastiveFixtures.tensor("moco_8x17_queue", on: b)  // K = 20
            let pointer = try b.mocoEnqueue(keys: try ContrastiveFixtures.tensor("moco_enqueue_keys", on: b), into: queue, at: 16)
            #expect(pointer == (try ContrastiveFixtures.integers("moco_enqueue_pointer_next"))[0])
            try ContrastiveFixtures.expectClose(queue, on: b, "moco_enqueue_queue_next", rtol: 1e-6)

            // K = 5, N = 3 at pointer 4: rows 4, 0, 1 take the normalised keys, rows 2, 3 stay.
            let old: [Float] = (0..<10).map { Float($0) }
            let small = try b.upload(old, shape: [5, 2])
            let next = try b.mocoEnqueue(keys: try b.upload([3, 4, 0, -2, 1, 0], shape: [3, 2]), into: small, at: 4)
            #expect(next == 2)
            let expected: [Float] = [0, -1, 1, 0, 4, 5, 6, 7, 0.6, 0.8]
            let values = try b.download(small)
            #expect(zip(values, expected).allSatisfy { abs($0 - $1) < 1e-6 }, "\(values)")
        }
    }

    @Test("the momentum update matches builder.py's _momentum_update_key_encoder")
    func momentumUpdate() throws {
        try forEachBackend { b in
            let online = try (0..<2).map { try ContrastiveFixtures.tensor("moco_momentum_online\($0)", on: b) }
            let target = try (0..<2).map { try ContrastiveFixtures.tensor("moco_momentum_target\($0)", on: b) }
            try b.mocoMomentumUpdate(online: online, target: target)  // the default m = 0.999
            for i in 0..<2 { try ContrastiveFixtures.expectClose(target[i], on: b, "moco_momentum_target\(i)_next", rtol: 1e-6) }
        }
    }

    @Test("bad shapes, temperatures, pointers and momenta are the same error on every backend")
    func errors() {
        expectSameError(["q", "(2, 3)", "k", "(2, 4)"]) { b in
            _ = try b.moco(q: try b.zeros([2, 3]), k: try b.zeros([2, 4]), queue: try b.zeros([5, 3]), temperature: 0.2)
        }
        expectSameError(["q", "(2, 3)", "queue", "(5, 4)"]) { b in
            _ = try b.moco(q: try b.zeros([2, 3]), k: try b.zeros([2, 3]), queue: try b.zeros([5, 4]), temperature: 0.2)
        }
        expectSameError(["queue", "empty"]) { b in
            _ = try b.moco(q: try b.zeros([2, 3]), k: try b.zeros([2, 3]), queue: try b.zeros([0, 3]), temperature: 0.2)
        }
        expectSameError(["temperature", "-1"]) { b in
            _ = try b.moco(q: try b.zeros([2, 3]), k: try b.zeros([2, 3]), queue: try b.zeros([5, 3]), temperature: -1)
        }
        expectSameError(["keys", "(6, 3)", "more rows", "(5, 3)"]) { b in
            _ = try b.mocoEnqueue(keys: try b.zeros([6, 3]), into: try b.zeros([5, 3]), at: 0)
        }
        expectSameError(["keys", "(2, 4)", "queue", "(5, 3)"]) { b in
            _ = try b.mocoEnqueue(keys: try b.zeros([2, 4]), into: try b.zeros([5, 3]), at: 0)
        }
        for pointer in [-1, 5] {
            expectSameError(["pointer \(pointer)", "5 rows"]) { b in
                _ = try b.mocoEnqueue(keys: try b.zeros([2, 3]), into: try b.zeros([5, 3]), at: pointer)
            }
        }
        expectSameError(["2 online", "1 target"]) { b in
            try b.mocoMomentumUpdate(online: [try b.zeros([2]), try b.zeros([3])], target: [try b.zeros([2])])
        }
        expectSameError(["online[1]", "(3,)", "target[1]", "(4,)"]) { b in
            try b.mocoMomentumUpdate(online: [try b.zeros([2]), try b.zeros([3])], target: [try b.zeros([2]), try b.zeros([4])])
        }
        expectSameError(["momentum", "1.5"]) { b in
            try b.mocoMomentumUpdate(online: [try b.zeros([2])], target: [try b.zeros([2])], momentum: 1.5)
        }
    }

    @Test("ssl loss moco writes the official values on every device")
    func cli() throws {
        let path: (String) -> String = { Fixtures.path("losses/moco_8x17_\($0)") }
        try ContrastiveFixtures.runCLI(["moco", "--q", path("q"), "--k", path("k"), "--queue", path("queue"),
                                        "--temperature", "0.07"]) { out, _ in
            for name in ["loss", "grad_q"] { try ContrastiveFixtures.expectFile(out + "/\(name).npy", "moco_8x17_\(name)") }
        }
    }
}
