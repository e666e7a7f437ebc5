// DeepCluster: k-means (faiss-transcribed fixtures, OpenCL parity, splits and ties), the
// pseudo-label cross-entropy (finite differences, nn.CrossEntropyLoss fixture), the head
// re-initialisation, errors and `ssl op kmeans`.
import Foundation
import Testing
@testable import SSLCore
@testable import ssl

@Suite struct DeepClusterTests {
    /// K blobs of radius ≤ 0.1 around centres ≥ 10 apart, rows interleaved: a unique optimum.
    static func blobs(n: Int, d: Int, k: Int, seed: UInt64) -> (x: [Float], truth: [Int]) {
        var rng = SeededRandom(seed: seed)
        let centres = (0..<k).map { c in (0..<d).map { f in Float(f == c % d ? 10 * (c / d + 1) : 0) * (c % 2 == 0 ? 1 : -1) } }
        let truth = (0..<n).map { $0 % k }
        let x = truth.flatMap { c in zip(centres[c], rng.uniform(d, scale: 0.1 / Float(d).squareRoot())).map { $0 + $1 } }
        return (x, truth)
    }

    /// The same partition up to a relabelling.
    static func samePartition(_ a: [Int], _ b: [Int]) -> Bool {
        guard a.count == b.count else { return false }
        var forward: [Int: Int] = [:], backward: [Int: Int] = [:]
        for (x, y) in zip(a, b) {
            if forward[x, default: y] != y || backward[y, default: x] != x { return false }
            forward[x] = y
            backward[y] = x
        }
        return true
    }

    @Test("from given initial centroids: the faiss k-means loop, including an empty cluster's split",
          arguments: ["blobs", "empty"])
    func matchesFaissLoop(_ name: String) throws {
        try forEachBackend { backend in
            let r = try backend.kmeans(try ClusteringFixtures.input("kmeans_blobs_x", on: backend),
                                       initialCentroids: try ClusteringFixtures.input("kmeans_\(name)_init", on: backend),
                                       iterations: 20)
            #expect(r.assignments == (try ClusteringFixtures.integers("kmeans_\(name)_assignments")), "\(backend.name)")
            try ClusteringFixtures.expect(r.centroids, on: backend, "kmeans_\(name)_centroids")
            try ClusteringFixtures.expect(r.inertia, on: backend, "kmeans_\(name)_inertia")
        }
        if name == "empty" {
            // Rows 0 and 1 of the initial centroids coincide, so cluster 1 starts empty (ties go to 0).
            let initial = try Fixtures.floats("losses/kmeans_empty_init").values
            #expect(initial[0..<3] == initial[3..<6])
        }
    }

    /// Seeds 1, 3 and 4 draw one initial row in each blob and reach the optimum; seeds 0 and 2 draw
    /// two rows in one blob, and Lloyd's iterations keep that local minimum (as faiss's would).
    /// Either way every backend must end in the same partition.
    @Test("seeded initialisation: the same result on every backend, the blobs' optimum when it starts in every blob",
          arguments: Oclgrind.first(2, of: [(UInt64(0), false), (1, true), (2, false), (3, true), (4, true)]))
    func seeded(_ c: (seed: UInt64, reachesOptimum: Bool)) throws {
        let truth = try ClusteringFixtures.integers("kmeans_blobs_truth")
        let optimal = try ClusteringFixtures.doubles("kmeans_blobs_optimal_inertia").values[0]
        var results: [(assignments: [Int], inertia: Double)] = []
        try forEachBackend { backend in
            let r = try backend.kmeans(try ClusteringFixtures.input("kmeans_blobs_x", on: backend), k: 4,
                                       iterations: 20, seed: c.seed)
            results.append((r.assignments, Double(try backend.download(r.inertia)[0])))
        }
        for r in results {
            #expect(r.assignments == results[0].assignments && abs(r.inertia - results[0].inertia) <= 1e-4 * results[0].inertia)
            #expect(Self.samePartition(r.assignments, truth) == c.reachesOptimum, "seed \(c.seed): \(r.assignments)")
            #expect((abs(r.inertia - optimal) <= 1e-4 * optimal) == c.reachesOptimum, "seed \(c.seed): \(r.inertia) vs \(optimal)")
        }
    }

    @Test("initial rows are K distinct rows, reproducible from the seed")
    func initialRows() {
        let rows = KMeansReference.initialRows(n: 50, k: 50, seed: 7)
        #expect(Set(rows) == Set(0..<50))
        #expect(KMeansReference.initialRows(n: 50, k: 5, seed: 7) == Array(rows.prefix(5)))
        #expect(KMeansReference.initialRows(n: 50, k: 5, seed: 8) != Array(rows.prefix(5)))
    }

    @Test("ties go to the lowest centroid index on every backend")
    func ties() throws {
        try forEachBackend { backend in
            // Centroids 0 and 2 coincide, 1 and 3 coincide: nothing may go to 2 or 3.
            let x = try backend.upload([0, 0, 1, 1, 0.1, 0, 0.9, 1], shape: [4, 2])
            let c = try backend.upload([0, 0, 1, 1, 0, 0, 1, 1], shape: [4, 2])
            let r = try backend.kmeans(x, initialCentroids: c, iterations: 0)
            #expect(r.assignments == [0, 1, 0, 1], "\(backend.name)")
        }
    }

    /// (N, D, K, rows per block): N = 2, D off every tile, and blocks that do not divide N.
    static let shapes: [(Int, Int, Int, Int?)] = [(2, 3, 2, nil), (7, 13, 3, nil), (33, 65, 5, nil), (33, 65, 5, 4), (40, 7, 9, 3)]

    /// Well-separated blobs: the assignments must be identical. Centroids are means of ≤ 40 rows of
    /// magnitude ≤ 20 (float32 error ~1e-6 relative); the inertia is a sum of tiny distances computed
    /// by the ‖x‖² − 2x·c + ‖c‖² expansion, whose cancellation costs ~|x|²·2⁻²⁴ ≈ 2e-5 per row.
    @Test("OpenCL k-means matches the reference", .enabled(if: TestBackends.hasOpenCL),
          arguments: Oclgrind.cases(shapes, limit: 500) { $0.0 * $0.1 })
    func parity(_ s: (n: Int, d: Int, k: Int, blockRows: Int?)) throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        let (x, truth) = Self.blobs(n: s.n, d: s.d, k: s.k, seed: UInt64(s.n + s.d))
        let initial = (0..<s.k).flatMap { x[($0 * s.d)..<(($0 + 1) * s.d)] }  // one row of each blob
        let expected = try ref.kmeans(try ref.upload(x, shape: [s.n, s.d]),
                                      initialCentroids: try ref.upload(initial, shape: [s.k, s.d]), iterations: 5)
        let actual = try cl.kmeans(try cl.upload(x, shape: [s.n, s.d]),
                                   initialCentroids: try cl.upload(initial, shape: [s.k, s.d]), iterations: 5,
                                   blockRows: s.blockRows)
        #expect(actual.assignments == expected.assignments && expected.assignments == truth, "\(s)")
        try assertClose(actual.centroids, on: cl, expected.centroids, on: ref, rtol: 1e-5, atol: 1e-5, "centroids \(s)")
        try assertClose(actual.inertia, on: cl, expected.inertia, on: ref, rtol: 1e-3, atol: 1e-4 * Double(s.n), "inertia \(s)")
        // The seeded path gathers the same rows on both backends.
        let seeded = try allBackends.map { b in try b.kmeans(try b.upload(x, shape: [s.n, s.d]), k: s.k, iterations: 0, seed: 3) }
        try assertClose(seeded.last!.centroids, on: allBackends.last!, seeded[0].centroids, on: ref, rtol: 0, atol: 0,
                        "seeded initial centroids \(s)")
    }

    @Test("the pseudo-label cross-entropy gradient matches finite differences")
    func crossEntropyGradient() {
        var rng = SeededRandom(seed: 5)
        let (n, k) = (6, 4)
        let logits = rng.doubles(n * k, scale: 3), labels = [0, 3, 1, 1, 2, 3]
        let r = PseudoLabelCrossEntropy.evaluate(logits: logits, labels: labels, n: n, k: k)
        checkGradient("pseudo-label CE", at: logits, analytic: r.dLogits) {
            PseudoLabelCrossEntropy.evaluate(logits: $0, labels: labels, n: n, k: k).loss
        }
    }

    /// The device one-hot is exact; the cross-entropy is the softCrossEntropy kernel, whose float32
    /// log-sum-exp over ≤ 65 logits of magnitude ≤ 3 is good to ~1e-6: 1e-5 holds with margin.
    @Test("OpenCL pseudo-label cross-entropy matches the reference", .enabled(if: TestBackends.hasOpenCL),
          arguments: [(2, 3), (7, 13), (33, 65)])
    func crossEntropyParity(_ s: (Int, Int)) throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        var rng = SeededRandom(seed: UInt64(s.0 * 7 + s.1))
        let logits = rng.uniform(s.0 * s.1, scale: 3)
        let labels = (0..<s.0).map { _ in Int(rng.next() % UInt64(s.1)) }
        let r = try ref.deepClusterLoss(logits: try ref.upload(logits, shape: [s.0, s.1]), labels: labels)
        let c = try cl.selaLoss(logits: try cl.upload(logits, shape: [s.0, s.1]), labels: labels)
        try assertClose(c.loss, on: cl, r.loss, on: ref, rtol: 1e-5, atol: 1e-5, "loss \(s)")
        try assertClose(c.dLogits, on: cl, r.dLogits, on: ref, rtol: 1e-5, atol: 1e-6, "dLogits \(s)")
    }

    /// The loss is one softCrossEntropy launch; 1e-4 is the bound for fixtures.
    @Test("the DeepCluster loss matches nn.CrossEntropyLoss, on every backend")
    func lossMatchesOfficial() throws {
        let labels = try ClusteringFixtures.integers("deepcluster_ce_labels")
        try forEachBackend { backend in
            let r = try backend.deepClusterLoss(logits: try ClusteringFixtures.input("deepcluster_ce_logits", on: backend),
                                                labels: labels)
            try ClusteringFixtures.expect(r.loss, on: backend, "deepcluster_ce_loss")
            try ClusteringFixtures.expect(r.dLogits, on: backend, "deepcluster_ce_grad_logits")
        }
    }

    @Test("the head re-initialisation is N(0, 0.01²) with zero bias, seeded, the same on every backend")
    func head() throws {
        let heads = try allBackends.map { try $0.deepClusterHead(features: 64, clusters: 100, seed: 11) }
        let w = try allBackends[0].download(heads[0].weight)
        #expect(heads[0].weight.shape == [100, 64] && heads[0].bias.shape == [100])
        #expect(try allBackends[0].download(heads[0].bias).allSatisfy { $0 == 0 })
        // 6400 draws: the sample mean's standard error is 1.25e-4, the std's 0.9%.
        let mean = w.reduce(0.0) { $0 + Double($1) } / Double(w.count)
        let std = (w.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(w.count)).squareRoot()
        #expect(abs(mean) < 5e-4 && abs(std - 0.01) < 5e-4, "mean \(mean), std \(std)")
        for (backend, h) in zip(allBackends, heads) { #expect(try backend.download(h.weight) == w, "\(backend.name)") }
        let other = try allBackends[0].download(try allBackends[0].deepClusterHead(features: 64, clusters: 100, seed: 12).weight)
        #expect(other != w)
    }

    @Test("bad k, iterations, shapes and labels are the same error on every backend")
    func errors() throws {
        let x: (any Backend) throws -> Tensor = { try $0.zeros([5, 3]) }
        expectSameError("k = 0") { b in _ = try b.kmeans(try x(b), k: 0, iterations: 1, seed: 0) }
        expectSameError("k > N") { b in _ = try b.kmeans(try x(b), k: 6, iterations: 1, seed: 0) }
        expectSameError("negative iterations") { b in _ = try b.kmeans(try x(b), k: 2, iterations: -1, seed: 0) }
        expectSameError("centroids D mismatch") { b in
            _ = try b.kmeans(try x(b), initialCentroids: try b.zeros([2, 4]), iterations: 1)
        }
        expectSameError("more initial centroids than rows") { b in
            _ = try b.kmeans(try x(b), initialCentroids: try b.zeros([6, 3]), iterations: 1)
        }
        expectSameError("label count") { b in _ = try b.deepClusterLoss(logits: try b.zeros([3, 4]), labels: [0, 1]) }
        expectSameError("negative label") { b in _ = try b.deepClusterLoss(logits: try b.zeros([2, 4]), labels: [0, -1]) }
        expectSameError("label ≥ K") { b in _ = try b.deepClusterLoss(logits: try b.zeros([2, 4]), labels: [4, 0]) }
        let error = #expect(throws: SSLError.self) {
            try TestBackends.reference.deepClusterLoss(logits: try TestBackends.reference.zeros([2, 4]), labels: [0, 4])
        }
        #expect(error?.description.contains("labels[1] = 4") == true)
    }

    @Test("ssl op kmeans writes centroids, int64 assignments and the inertia on every device")
    func cli() throws {
        let folder = try ClusteringCLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let truth = try ClusteringFixtures.integers("kmeans_blobs_truth")
        for device in ClusteringCLI.devices {
            let out = folder.appendingPathComponent(device)
            try ClusteringCLI.run(["op", "kmeans", "--x", Fixtures.path("losses/kmeans_blobs_x"), "--k", "4",
                                   "--seed", "1", "--out", out.path, "--device", device])
            let assignments = try NumPy.read(out.appendingPathComponent("assignments.npy").path)
            #expect(assignments.dtype == .int64 && assignments.shape == [truth.count])
            #expect(Self.samePartition(try assignments.integers().map(Int.init), truth), "\(device)")
            let centroids = try ClusteringCLI.read(out, "centroids")
            #expect(centroids.shape == [4, 3])
            let inertia = try ClusteringCLI.read(out, "inertia")
            try ClusteringFixtures.expect(inertia.values, shape: inertia.shape, "kmeans_blobs_optimal_inertia", "CLI on \(device)")
        }
        #expect(throws: (any Error).self) {
            _ = try SSLCommand.parseAsRoot(["op", "kmeans", "--x", "x.npy", "--k", "0", "--out", "o"])
        }
    }
}
