// SwAV: finite differences on the Double reference, OpenCL parity, official-code fixtures
// (Tests/Fixtures/losses/clustering.py), errors and the CLI.
import Foundation
import Testing
@testable import SSLCore

@Suite struct SwAVTests {
    /// Random unit rows, as SwAV's trainer feeds them.
    static func unitRows(_ rng: inout SeededRandom, _ rows: Int, _ cols: Int) -> [Float] {
        var x = rng.uniform(rows * cols)
        for r in 0..<rows {
            let norm = (0..<cols).reduce(Float(0)) { $0 + x[r * cols + $1] * x[r * cols + $1] }.squareRoot()
            for j in 0..<cols { x[r * cols + j] /= norm }
        }
        return x
    }

    @Test("gradients w.r.t. every crop, the prototypes and the scores match finite differences",
          arguments: [(2, 0), (4, 0), (2, 5)])
    func gradients(_ c: (crops: Int, queueRows: Int)) {
        let (n, d, k, t) = (4, 5, 3, 0.1)
        var rng = SeededRandom(seed: UInt64(10 * c.crops + c.queueRows))
        let z = (0..<c.crops).map { _ in rng.doubles(n * d) }
        let p = rng.doubles(k * d)
        let queues = c.queueRows > 0 ? (0..<2).map { _ in rng.doubles(c.queueRows * d) } : nil
        let f = SwAVReference.forward(crops: z, prototypes: p, queues: queues, n: n, d: d, k: k,
                                      epsilon: 0.05, iterations: 3, temperature: t)
        let g = SwAVReference.backward(dScores: f.dScores, crops: z, prototypes: p, n: n, d: d, k: k)
        // The codes are constants of the loss (computed under no_grad officially), so hold them fixed.
        func loss(_ z: [[Double]], _ p: [Double]) -> Double {
            let s = z.map { SwAVReference.scores($0, p, rows: n, d: d, k: k) }
            return SwAVReference.swappedPrediction(scores: s, codes: f.codes, n: n, k: k, temperature: t).loss
        }
        checkGradient("SwAV dP \(c)", at: p, analytic: g.dPrototypes) { loss(z, $0) }
        for v in 0..<c.crops {
            checkGradient("SwAV dZ\(v + 1) \(c)", at: z[v], analytic: g.dZ[v]) { zv in
                var all = z
                all[v] = zv
                return loss(all, p)
            }
            checkGradient("SwAV dScores\(v + 1) \(c)", at: f.scores[v], analytic: f.dScores[v]) { sv in
                var s = f.scores
                s[v] = sv
                return SwAVReference.swappedPrediction(scores: s, codes: f.codes, n: n, k: k, temperature: t).loss
            }
        }
    }

    static func run(_ backend: any Backend, _ fixture: String, crops: Int, queue: Bool) throws -> SwAVResult {
        let z = try (1...crops).map { try ClusteringFixtures.input("swav_\(fixture)_z\($0)", on: backend) }
        let queues = queue ? try (1...2).map { try ClusteringFixtures.input("swav_\(fixture)_queue_\($0)", on: backend) } : nil
        return try backend.swav(crops: z, prototypes: try ClusteringFixtures.input("swav_\(fixture)_prototypes", on: backend),
                                queues: queues)
    }

    @Test("matches the official loss loop and distributed_sinkhorn (PyTorch float64, autograd)",
          arguments: [("2crop", 2, false), ("4crop", 4, false), ("queue", 2, true)])
    func matchesOfficial(_ c: (name: String, crops: Int, queue: Bool)) throws {
        try forEachBackend { backend in
            let r = try Self.run(backend, c.name, crops: c.crops, queue: c.queue)
            let prefix = "swav_\(c.name)_"
            try ClusteringFixtures.expect(r.loss, on: backend, prefix + "loss")
            for i in 0..<2 { try ClusteringFixtures.expect(r.codes[i], on: backend, prefix + "codes_\(i + 1)") }
            for v in 0..<c.crops {
                try ClusteringFixtures.expect(r.scores[v], on: backend, prefix + "scores_\(v + 1)")
                try ClusteringFixtures.expect(r.dScores[v], on: backend, prefix + "grad_scores_\(v + 1)")
                try ClusteringFixtures.expect(r.dZ[v], on: backend, prefix + "grad_z\(v + 1)")
            }
            try ClusteringFixtures.expect(r.dPrototypes, on: backend, prefix + "grad_prototypes")
        }
    }

    @Test("the queue push is the official FIFO (newest rows first)")
    func queuePush() throws {
        try forEachBackend { backend in
            for i in 1...2 {
                let queue = try ClusteringFixtures.input("swav_queue_queue_\(i)", on: backend)
                try backend.swavQueuePush(try ClusteringFixtures.input("swav_queue_z\(i)", on: backend), into: queue)
                // A copy of the tensor shares the storage the push updated in place.
                try ClusteringFixtures.expect(queue, on: backend, "swav_queue_queue_next_\(i)", tolerance: 0)
            }
            // Q == N: the queue becomes the embeddings.
            let q = try backend.upload([1, 2, 3, 4], shape: [2, 2])
            try backend.swavQueuePush(try backend.upload([5, 6, 7, 8], shape: [2, 2]), into: q)
            #expect(try backend.download(q) == [5, 6, 7, 8], "\(backend.name)")
        }
    }

    /// (N, D, K, crops, queue rows): N = 2, D off every tile (13, 65), multi-crop and a queue.
    static let shapes: [(Int, Int, Int, Int, Int)] = [(2, 3, 4, 2, 0), (7, 13, 5, 4, 0), (33, 65, 17, 3, 9), (2, 3, 4, 2, 3)]

    /// Float32 on the device: scores are sums of D products of unit-row entries (error ~√D·2⁻²⁴);
    /// the codes go through exp(S/ε) with |S|/ε ≤ 20, a relative error ≈ 20·2⁻²⁴ ≈ 1.2e-6 each;
    /// the gradients inherit both. 1e-4 of each tensor's scale bounds them with a wide margin
    /// while a wrong term (O(1) of the scale) fails.
    @Test("OpenCL matches the reference: loss, codes, scores and every gradient",
          .enabled(if: TestBackends.hasOpenCL), arguments: shapes, [false, true])
    func parity(_ s: (n: Int, d: Int, k: Int, crops: Int, queueRows: Int), serialRows: Bool) throws {
        let cl = openCL(serialRows: serialRows), ref = TestBackends.reference
        var rng = SeededRandom(seed: UInt64(s.n * 1000 + s.d * 10 + s.crops))
        let z = (0..<s.crops).map { _ in Self.unitRows(&rng, s.n, s.d) }
        let p = Self.unitRows(&rng, s.k, s.d)
        let q = s.queueRows > 0 ? (0..<2).map { _ in Self.unitRows(&rng, s.queueRows, s.d) } : nil
        var results: [[Tensor]] = []
        for backend in [ref, cl] as [any Backend] {
            let r = try backend.swav(crops: try z.map { try backend.upload($0, shape: [s.n, s.d]) },
                                     prototypes: try backend.upload(p, shape: [s.k, s.d]),
                                     queues: try q?.map { try backend.upload($0, shape: [s.queueRows, s.d]) })
            results.append([r.loss, r.dPrototypes] + r.codes + r.scores + r.dScores + r.dZ)
        }
        for (i, (a, e)) in zip(results[1], results[0]).enumerated() {
            let scale = try ref.download(e).map { Double(abs($0)) }.max() ?? 0
            try assertClose(a, on: cl, e, on: ref, rtol: 1e-4, atol: 1e-4 * scale, "SwAV \(s) output \(i)")
        }
    }

    @Test("bad crops, prototypes, queues and hyper-parameters are the same error on every backend")
    func errors() throws {
        func swav(_ b: any Backend, crops: [[Int]], prototypes: [Int] = [3, 4], queues: [[Int]]? = nil,
                  epsilon: Float = 0.05, iterations: Int = 3, temperature: Float = 0.1) throws {
            _ = try b.swav(crops: try crops.map { try b.zeros($0) }, prototypes: try b.zeros(prototypes),
                           epsilon: epsilon, iterations: iterations, temperature: temperature,
                           queues: try queues?.map { try b.zeros($0) })
        }
        expectSameError("one crop") { try swav($0, crops: [[2, 4]]) }
        expectSameError("crop batch mismatch") { try swav($0, crops: [[2, 4], [2, 4], [3, 4]]) }
        expectSameError("crop D mismatch") { try swav($0, crops: [[2, 4], [2, 5]]) }
        expectSameError("prototypes D mismatch") { try swav($0, crops: [[2, 4], [2, 4]], prototypes: [3, 5]) }
        expectSameError("zero temperature") { try swav($0, crops: [[2, 4], [2, 4]], temperature: 0) }
        expectSameError("zero epsilon") { try swav($0, crops: [[2, 4], [2, 4]], epsilon: 0) }
        expectSameError("no iterations") { try swav($0, crops: [[2, 4], [2, 4]], iterations: 0) }
        expectSameError("one queue") { try swav($0, crops: [[2, 4], [2, 4]], queues: [[5, 4]]) }
        expectSameError("queue D mismatch") { try swav($0, crops: [[2, 4], [2, 4]], queues: [[5, 4], [5, 3]]) }
        expectSameError("queue shorter than the batch") { b in
            try b.swavQueuePush(try b.zeros([3, 4]), into: try b.zeros([2, 4]))
        }
        // The message names the crop and both shapes.
        let error = #expect(throws: SSLError.self) {
            try swav(TestBackends.reference, crops: [[2, 4], [2, 4], [3, 4]])
        }
        #expect(error?.description.contains("crops[2] is (3, 4) but crops[0] is (2, 4)") == true, "\(String(describing: error))")
    }

    @Test("ssl loss swav with extra crops writes the official values on every device")
    func cli() throws {
        let folder = try ClusteringCLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = { (name: String) in Fixtures.path("losses/swav_4crop_" + name) }
        for device in ClusteringCLI.devices {
            let out = folder.appendingPathComponent(device)
            try ClusteringCLI.run(["loss", "swav", "--z1", input("z1"), "--z2", input("z2"), "--prototypes", input("prototypes"),
                                   "--extra-crops", input("z3") + "," + input("z4"), "--out", out.path, "--device", device])
            var names = ["loss", "codes_1", "codes_2", "grad_prototypes"]
            for v in 1...4 { names += ["scores_\(v)", "grad_scores_\(v)", "grad_z\(v)"] }
            for name in names {
                let r = try ClusteringCLI.read(out, name)
                try ClusteringFixtures.expect(r.values, shape: r.shape, "swav_4crop_" + name, "CLI \(name) on \(device)")
            }
        }
    }
}
