// The evaluation ops (EvalOps): top-k merging against a sort, OpenCL vs reference parity on odd
// sizes, vote and silhouette definitions, distances against the direct formula, and errors.
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

@Suite struct EvalOpsTests {
    /// (rows, columns, k, column chunks): k = 1, k = N, k > N (empty slots), k = maxK, a row
    /// longer than the 256-wide tile, chunks that do not divide the columns.
    static let topKCases: [(Int, Int, Int, [Int])] = [
        (1, 1, 1, [1]), (3, 7, 7, [7]), (2, 7, 1, [3, 4]), (5, 300, 20, [300]), (4, 600, 200, [257, 256, 87]),
        (3, 37, 50, [37]), (2, 40, 9, [5, 1, 34]), (2, 1100, EvalReference.maxK, [600, 500]),
    ]

    /// Runs the chunked merge of `scores` on `backend` and returns the selection on the host.
    func mergedTopK(_ scores: [Float], rows: Int, cols: Int, k: Int, chunks: [Int],
                    on backend: any Backend) throws -> (values: [Float], indices: [Float]) {
        var running: TopKResult? = nil, offset = 0
        for width in chunks {
            let block = (0..<rows).flatMap { r in scores[(r * cols + offset)..<(r * cols + offset + width)] }
            running = try backend.topK(try backend.upload(block, shape: [rows, width]), k: k, columnOffset: offset,
                                       merging: running)
            offset += width
        }
        return (try backend.download(running!.values), try backend.download(running!.indices))
    }

    @Test("topK merged over chunks equals sorting every entry, on every backend", arguments: Oclgrind.cases(topKCases, limit: 1_500) { $0.0 * $0.1 })
    func topKMatchesSort(_ c: (Int, Int, Int, [Int])) throws {
        let (rows, cols, k, chunks) = c
        var rng = SeededRandom(seed: UInt64(rows * 1000 + cols + k))
        let scores = rng.uniform(rows * cols)
        let expected = evalBruteTopK(scores, rows: rows, cols: cols, k: k)
        try forEachBackendBothRowForms { backend in
            // Selection copies values, so the comparison is exact.
            let got = try mergedTopK(scores, rows: rows, cols: cols, k: k, chunks: chunks, on: backend)
            #expect(got.values == expected.values, "values \(c) on \(backend.name)")
            #expect(got.indices == expected.indices, "indices \(c) on \(backend.name)")
        }
    }

    @Test("topK breaks ties by the lower index and ranks NaN as −∞, across chunks")
    func topKTiesAndNaN() throws {
        let (rows, cols, k) = (4, 333, 40)
        var rng = SeededRandom(seed: 99)
        // Values on a grid of 1/4: about 80 copies of each, so most selected entries are ties.
        var scores = rng.uniform(rows * cols).map { ($0 * 4).rounded() / 4 }
        for i in stride(from: 0, to: scores.count, by: 7) { scores[i] = .nan }
        scores[5] = 2  // strictly best in row 0 (the grid tops out at 1)
        let expected = evalBruteTopK(scores, rows: rows, cols: cols, k: k)
        try forEachBackendBothRowForms { backend in
            for chunks in [[333], [100, 100, 133], [1, 256, 76]] {
                let got = try mergedTopK(scores, rows: rows, cols: cols, k: k, chunks: chunks, on: backend)
                #expect(got.values == expected.values && got.indices == expected.indices, "\(chunks) on \(backend.name)")
                #expect(got.indices[0] == 5)
            }
        }
        // A row of NaN only: k entries at −∞ in index order, none empty.
        try forEachBackendBothRowForms { backend in
            let r = try backend.topK(try backend.upload([.nan, .nan, .nan], shape: [1, 3]), k: 2, columnOffset: 10, merging: nil)
            #expect(try backend.download(r.indices) == [10, 11])
        }
    }

    @Test("knnVotes: Σ exp((s − s_best)/T) per class, OpenCL vs reference")
    func votesParity() throws {
        let (rows, k, classes, n) = (37, 20, 7, 101)
        var rng = SeededRandom(seed: 5)
        let scores = rng.uniform(rows * n)
        let top = evalBruteTopK(scores, rows: rows, cols: n, k: k)
        let labels = evalRandomLabels(n, classes: classes, seed: 6)
        // The definition, in Double, on the brute-force neighbours.
        var expected = [Double](repeating: 0, count: rows * classes)
        for r in 0..<rows {
            for p in 0..<k {
                expected[r * classes + labels[Int(top.indices[r * k + p])]] +=
                    exp((Double(top.values[r * k + p]) - Double(top.values[r * k])) / 0.07)
            }
        }
        try forEachBackend { backend in
            let neighbours = try TopKResult(values: try backend.upload(top.values, shape: [rows, k]),
                                            indices: try backend.upload(top.indices, shape: [rows, k]))
            let v = try backend.knnVotes(neighbours, labels: labels, classes: classes, temperature: 0.07)
            // Weights exp(x) with |x| ≤ 2/T ≈ 29 carry float32 errors of ~29·2⁻²⁴ relative; sums ≤ k.
            assertClose(try backend.download(v.votes), expected, shape: v.votes.shape, expectedShape: [rows, classes],
                        rtol: 1e-5, atol: 1e-6, "votes on \(backend.name)")
            let predicted = try backend.download(v.predictions).map { Int($0) }
            let argmax = (0..<rows).map { EvalReference.argmax(expected[($0 * classes)..<(($0 + 1) * classes)]) }
            #expect(predicted == argmax, "\(backend.name)")
        }
    }

    @Test("knnVotes: equal votes go to the lowest class; empty and out-of-range neighbours do not vote")
    func votesTies() throws {
        // Row 0: classes 2 and 1 get two votes of weight 1 each (equal similarities) → 1.
        // Row 1: indices −1 (empty) and 9 (no label) skip; class 3 wins with its one vote.
        // Row 2: only empties → no votes → class 0.
        let values: [Float] = [0.5, 0.5, 0.5, 0.5, 0.9, 0.2, 0.1, -.infinity, -.infinity, -.infinity, -.infinity, -.infinity]
        let indices: [Float] = [0, 1, 2, 3, 9, 4, -1, -1, -1, -1, -1, -1]
        let labels = [2, 1, 2, 1, 3]
        try forEachBackend { backend in
            let n = try TopKResult(values: try backend.upload(values, shape: [3, 4]), indices: try backend.upload(indices, shape: [3, 4]))
            let v = try backend.knnVotes(n, labels: labels, classes: 4, temperature: 0.1)
            #expect(try backend.download(v.predictions) == [1, 3, 0], "\(backend.name)")
            let votes = try backend.download(v.votes)
            #expect(Array(votes[0..<4]) == [0, 2, 2, 0] && Array(votes[8..<12]) == [0, 0, 0, 0], "\(backend.name)")
            #expect(abs(votes[7] - expf((0.2 - 0.9) / 0.1)) < 1e-6, "\(backend.name)")
        }
    }

    static let distanceShapes: [(Int, Int, Int)] = [(1, 1, 1), (7, 13, 5), (33, 65, 17), (129, 31, 3)]

    @Test("pairwiseDistances: the GEMM form on OpenCL equals the direct formula", arguments: Oclgrind.cases(distanceShapes) { $0.0 * $0.1 * $0.2 })
    func distancesParity(_ s: (Int, Int, Int)) throws {
        let (r, c, d) = s
        var rng = SeededRandom(seed: UInt64(r * 7 + c * 3 + d))
        let x = rng.uniform(r * d), y = rng.uniform(c * d)
        for metric in DistanceMetric.allCases {
            for diagonal in [nil, 0, 3] as [Int?] {
                let expected = EvalReference.pairwiseDistances(x: x.map(Double.init), y: y.map(Double.init), r: r, c: c, d: d,
                                                               metric: metric, diagonalOffset: diagonal)
                try forEachBackend { backend in
                    let got = try backend.pairwiseDistances(try backend.upload(x, shape: [r, d]), try backend.upload(y, shape: [c, d]),
                                                            metric: metric, diagonalOffset: diagonal)
                    // Euclidean: ‖x‖²+‖y‖²−2x·y loses ~4·2⁻²⁴·(‖x‖²+‖y‖²) ≤ 3e-6 here, i.e. ≤ 1e-5 in a distance
                    // above 0.15 (random points here are farther apart); cosine: ~D·2⁻²⁴ on 1 − x̂·ŷ.
                    assertClose(try backend.download(got), expected, shape: got.shape, expectedShape: [r, c],
                                rtol: 1e-4, atol: 1e-5, "\(metric) \(s) diagonal \(String(describing: diagonal)) on \(backend.name)")
                    if let diagonal {
                        let values = try backend.download(got)
                        for i in 0..<r where (0..<c).contains(i + diagonal) { #expect(values[i * c + i + diagonal] == 0) }
                    }
                }
            }
        }
    }

    @Test("pairwiseDistances: a zero row is at cosine distance 1 (sklearn's normalize leaves it zero)")
    func cosineZeroRow() throws {
        try forEachBackend { backend in
            let x = try backend.upload([0, 0, 3, 4], shape: [2, 2])
            let got = try backend.download(try backend.pairwiseDistances(x, x, metric: .cosine, diagonalOffset: 0))
            #expect(got.map { ($0 * 1e5).rounded() / 1e5 } == [0, 1, 1, 0], "\(backend.name)")
        }
    }

    @Test("silhouetteSamples: (b − a)/max(a, b) from cluster sums, 0 for singletons, OpenCL vs the definition")
    func silhouetteParity() throws {
        let (r, l) = (41, 5)
        var rng = SeededRandom(seed: 17)
        let sums = rng.uniform(r * l).map { ($0 + 1.5) * 10 }
        let sizes = [4, 1, 9, 13, 14]
        let labels = evalRandomLabels(r, classes: l, seed: 3)
        let expected: [Double] = (0..<r).map { i in
            let own = labels[i]
            if sizes[own] == 1 { return 0 }
            let a = Double(sums[i * l + own]) / Double(sizes[own] - 1)
            let b = (0..<l).filter { $0 != own }.map { Double(sums[i * l + $0]) / Double(sizes[$0]) }.min()!
            return (b - a) / max(a, b)
        }
        #expect(expected.contains(0))
        try forEachBackend { backend in
            let s = try backend.silhouetteSamples(try backend.upload(sums, shape: [r, l]), labels: labels, clusterSizes: sizes)
            // Three float32 divisions and a subtraction of values ~10: a few 2⁻²⁴ relative.
            assertClose(try backend.download(s), expected, shape: s.shape, expectedShape: [r], rtol: 1e-5, atol: 1e-6,
                        "silhouette on \(backend.name)")
        }
    }

    @Test("OpenCL equals the reference end to end: kNN at k 200 and the silhouette, blocks off every tile",
          .enabled(if: TestBackends.hasOpenCL))
    func endToEndParity() throws {
        let openCL = try #require(TestBackends.openCL), reference = TestBackends.reference
        // Under Oclgrind, which interprets each top-k merge, k 40 over 90 rows in chunks of 41.
        let (rows, k, trainChunk) = Oclgrind.isRunning ? (90, 40, 41) : (300, 200, 257)
        let train = try evalRandomFeatures(rows, 33, seed: 41), test = try evalRandomFeatures(50, 33, seed: 42)
        let labels = evalRandomLabels(rows, classes: 10, seed: 43)
        let knn = KNNClassifier(k: k, testChunk: 37, trainChunk: trainChunk)
        let a = try knn.classify(train: train, labels: labels, test: test, on: openCL)
        let b = try knn.classify(train: train, labels: labels, test: test, on: reference)
        #expect(a.predictions == b.predictions)
        // Similarities differ by float32 GEMM rounding (~√D·2⁻²⁴); weights by 1/T times that.
        assertClose(a.votes, b.votes.map(Double.init), shape: [a.votes.count], expectedShape: [b.votes.count],
                    rtol: 1e-4, atol: 1e-5, "kNN votes")
        let clustered = min(150, rows)
        let points = Array(train.values[..<(clustered * 33)]), clusters = Array(labels[..<clustered])
        let features = try FeatureMatrix(values: points, rows: clustered, columns: 33)
        for metric in DistanceMetric.allCases {
            let silhouette = Silhouette(metric: metric, rowChunk: 37, columnChunk: 64)
            let s = try silhouette.samples(features, labels: clusters, on: openCL)
            // Random points: a and b are close, so s = (b − a)/max is a small difference of nearby means;
            // float32 distances (~1e-7 relative) leave ~1e-7 in it (measured on PoCL: 2.5e-7).
            assertClose(s, try silhouette.samples(features, labels: clusters, on: reference).map(Double.init),
                        shape: [s.count], expectedShape: [clustered], rtol: 1e-4, atol: 1e-5, "silhouette \(metric)")
        }
    }

    @Test("bad arguments throw the same error on every backend")
    func errors() throws {
        var messages: [[String]] = []
        try forEachBackend { backend in
            let s = try backend.upload([1, 2, 3, 4, 5, 6], shape: [2, 3])
            let n = try TopKResult(values: try backend.upload([1, 2], shape: [2, 1]), indices: try backend.upload([0, 1], shape: [2, 1]))
            let attempts: [() throws -> Void] = [
                { _ = try backend.topK(s, k: 0, columnOffset: 0, merging: nil) },
                { _ = try backend.topK(s, k: EvalReference.maxK + 1, columnOffset: 0, merging: nil) },
                { _ = try backend.topK(s, k: 2, columnOffset: 0, merging: n) },
                { _ = try backend.topK(s, k: 1, columnOffset: -1, merging: nil) },
                { _ = try backend.topK(s, k: 1, columnOffset: EvalReference.maxIndex - 2, merging: nil) },
                { _ = try backend.topK(try backend.upload([1, 2], shape: [2]), k: 1, columnOffset: 0, merging: nil) },
                { _ = try backend.knnVotes(n, labels: [0, 1], classes: 0, temperature: 0.07) },
                { _ = try backend.knnVotes(n, labels: [0, 2], classes: 2, temperature: 0.07) },
                { _ = try backend.knnVotes(n, labels: [0, 1], classes: 2, temperature: 0) },
                { _ = try backend.knnVotes(n, labels: [0, 1], classes: 2, temperature: .nan) },
                { _ = try backend.pairwiseDistances(s, try backend.upload([1, 2], shape: [1, 2]), metric: .euclidean, diagonalOffset: nil) },
                { _ = try backend.silhouetteSamples(try backend.upload([1, 2], shape: [2, 1]), labels: [0, 0], clusterSizes: [2]) },
                { _ = try backend.silhouetteSamples(s, labels: [0, 1], clusterSizes: [1, 1]) },
                { _ = try backend.silhouetteSamples(s, labels: [0], clusterSizes: [1, 1, 1]) },
                { _ = try backend.silhouetteSamples(s, labels: [0, 1], clusterSizes: [1, 0, 1]) },
                { _ = try backend.silhouetteSamples(s, labels: [0, 3], clusterSizes: [1, 1, 1]) },
            ]
            messages.append(attempts.map { attempt in
                do { try attempt(); return "no error" } catch { return "\(error)" }
            })
        }
        #expect(!messages[0].contains("no error"), "\(messages[0])")
        #expect(messages[0].first?.contains("k must be in 1...1024") == true)
        #expect(messages[0][7].contains("label 2 at 1"))
        for other in messages.dropFirst() { #expect(other == messages[0]) }
    }
}
