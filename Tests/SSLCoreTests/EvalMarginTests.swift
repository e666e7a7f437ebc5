// The nearest-neighbour margin: the nearestByClass op against its definition on both backends,
// the chunked margin against a brute-force Double one, errors, and the three-stripes embedding
// where the linear probe misleads and the local measures do not.
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

/// The margins written plainly: all distances in Double, self excluded, nil without both kinds.
private func bruteMargins(_ f: FeatureMatrix, labels: [Int], cosine: Bool) -> [Double?] {
    let rows = (0..<f.rows).map { i in (0..<f.columns).map { Double(f.values[i * f.columns + $0]) } }
    func distance(_ a: [Double], _ b: [Double]) -> Double {
        if !cosine { return sqrt(zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }) }
        let norm = { (v: [Double]) in max(sqrt(v.reduce(0) { $0 + $1 * $1 }), 1e-12) }
        return 1 - zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } / (norm(a) * norm(b))
    }
    return (0..<f.rows).map { i in
        let others = (0..<f.rows).filter { $0 != i }
        let own = others.filter { labels[$0] == labels[i] }.map { distance(rows[i], rows[$0]) }.min()
        let other = others.filter { labels[$0] != labels[i] }.map { distance(rows[i], rows[$0]) }.min()
        guard let own, let other else { return nil }
        return other - own
    }
}

@Suite struct EvalMarginTests {
    /// (R, C, column chunks): one row, one column, primes, chunks that do not divide the columns.
    static let shapes: [(Int, Int, [Int])] = [(1, 1, [1]), (1, 13, [13]), (7, 1, [1]), (37, 61, [17, 44]), (64, 97, [32, 32, 33])]

    @Test("nearestByClass merged over chunks equals the minima over every column, skipping the diagonal and NaN",
          arguments: shapes)
    func opMatchesDefinition(_ c: (Int, Int, [Int])) throws {
        let (r, cols, chunks) = c
        var rng = SeededRandom(seed: UInt64(r * 1000 + cols))
        var distances = rng.uniform(r * cols).map { abs($0) * 5 }
        if r * cols > 5 { distances[3] = .nan }
        let rowLabels = evalRandomLabels(r, classes: 3, seed: 2).map { $0 * 7 - 4 }  // any integers
        let columnLabels = evalRandomLabels(cols, classes: 3, seed: 5).map { $0 * 7 - 4 }
        for diagonal in [nil, 0, 2] as [Int?] {
            var own = [Float](repeating: .infinity, count: r), other = own
            for i in 0..<r {
                for j in 0..<cols where j - i != diagonal && !distances[i * cols + j].isNaN {
                    if rowLabels[i] == columnLabels[j] { own[i] = min(own[i], distances[i * cols + j]) }
                    else { other[i] = min(other[i], distances[i * cols + j]) }
                }
            }
            try forEachBackend { backend in
                var running: NearestByClass? = nil, offset = 0
                for width in chunks {
                    let block = (0..<r).flatMap { i in distances[(i * cols + offset)..<(i * cols + offset + width)] }
                    running = try backend.nearestByClass(try backend.upload(block, shape: [r, width]), rowLabels: rowLabels,
                                                         columnLabels: Array(columnLabels[offset..<(offset + width)]),
                                                         diagonalOffset: diagonal.map { $0 - offset }, merging: running)
                    offset += width
                }
                // Selected, never computed: equal bit for bit, +∞ included.
                #expect(try backend.download(running!.own) == own, "own, diagonal \(String(describing: diagonal)) on \(backend.name)")
                #expect(try backend.download(running!.other) == other, "other on \(backend.name)")
            }
        }
    }

    @Test("the chunked margin equals the brute-force Double one for both metrics, on every backend")
    func marginMatchesDefinition() throws {
        let (features, labels) = try EvalSilhouetteTests.clustered(seed: 9)  // with a singleton class
        for metric in DistanceMetric.allCases {
            let expected = bruteMargins(features, labels: labels, cosine: metric == .cosine)
            #expect(expected[0] == nil && expected.dropFirst().allSatisfy { $0 != nil })
            let defined = expected.compactMap { $0 }
            try forEachBackend { backend in
                // Under Oclgrind one chunking that cuts both ways: each GEMM is interpreted.
                for (rows, columns) in Oclgrind.isRunning ? [(3, 5)] : EvalSilhouetteTests.chunkings {
                    let m = try NearestNeighbourMargin(metric: metric, rowChunk: rows, columnChunk: columns)
                        .evaluate(features, labels: labels, on: backend)
                    #expect(m.samples[0] == nil)
                    // Float32 distances of centred points (‖x‖² ≲ 10) through the GEMM form: ~1e-6
                    // relative; a margin is a difference of two of them.
                    assertClose(m.samples.dropFirst().map { $0 ?? .nan }, defined, shape: [defined.count], expectedShape: [defined.count],
                                rtol: 1e-4, atol: 1e-5, "\(metric) chunks \(rows)×\(columns) on \(backend.name)")
                    #expect(abs(m.mean - defined.reduce(0, +) / Double(defined.count)) < 1e-5)
                    #expect(m.positiveShare == Double(defined.filter { $0 > 0 }.count) / Double(defined.count))
                }
            }
        }
    }

    @Test("a label count other than N or a bad chunk is an error; one class has no margin")
    func errors() throws {
        let f = try evalRandomFeatures(4, 2, seed: 1), backend = TestBackends.reference
        func message(_ labels: [Int], _ m: NearestNeighbourMargin = NearestNeighbourMargin()) -> String {
            do { _ = try m.evaluate(f, labels: labels, on: backend); return "no error" } catch { return "\(error)" }
        }
        #expect(message([0, 1, 1]) == "nearestNeighbourMargin: shape mismatch: 3 labels for 4 samples")
        #expect(message([0, 1, 1, 0], NearestNeighbourMargin(rowChunk: 0)).contains("rowChunk must be at least 1"))
        let single = try NearestNeighbourMargin().evaluate(f, labels: [5, 5, 5, 5], on: backend)
        #expect(single.samples == [nil, nil, nil, nil] && single.mean == 0 && single.positiveShare == 0)
        try forEachBackend { backend in
            let d = try backend.upload([1, 2, 3, 4, 5, 6], shape: [2, 3])
            let wrong = #expect(throws: SSLError.self) {
                _ = try backend.nearestByClass(d, rowLabels: [0], columnLabels: [0, 1, 2], diagonalOffset: nil, merging: nil)
            }
            #expect(wrong?.description.contains("need 2 row and 3 column labels, got 1 and 3") == true, "\(String(describing: wrong))")
        }
    }

    /// Two classes laid out 0 | 1 | 0 along a line (x in [−1.5, 1.5) at y = 1): no line
    /// separates them, so the best linear probe is right on about 2/3 of the points, while every
    /// point's nearest neighbours share its class. The case that shows why the local measures
    /// (kNN, the margin) are reported first. The line misses the origin so that the cosine kNN,
    /// which sees angles, orders the points along it too.
    @Test("three stripes: the linear probe stays near 2/3 while kNN and the margin see perfectly separated classes",
          .disabled(if: Oclgrind.isRunning, "no kernel of its own; the probe's L-BFGS takes minutes interpreted"))
    func threeStripes() throws {
        func stripes(_ n: Int, shift: Float) throws -> (FeatureMatrix, [Int]) {
            let x = (0..<n).map { 3 * (Float($0) + shift) / Float(n) - 1.5 }
            let labels = x.map { abs($0) < 0.5 ? 1 : 0 }
            return (try FeatureMatrix(values: x.flatMap { [$0, 1] }, rows: n, columns: 2), labels)
        }
        let (train, trainLabels) = try stripes(600, shift: 0), (test, testLabels) = try stripes(301, shift: 0.5)
        try forEachBackend { backend in
            let probe = try LinearProbe().fit(train, labels: trainLabels, on: backend)
            let probeAccuracy = try EvalMetrics.accuracy(predictions: try probe.predict(test, on: backend), labels: testLabels)
            let knn = try KNNClassifier(k: 5).classify(train: train, labels: trainLabels, test: test, on: backend)
            let knnAccuracy = try EvalMetrics.accuracy(predictions: knn.predictions, labels: testLabels)
            let margin = try NearestNeighbourMargin().evaluate(train, labels: trainLabels, on: backend)
            // 2/3 of the points are class 0: the best line (all 0, or one boundary) is right on 2/3.
            #expect(abs(probeAccuracy - 2.0 / 3) < 0.04, "probe \(probeAccuracy) on \(backend.name)")
            // Angles order the points along the line: only points at the two boundaries can err.
            #expect(knnAccuracy > 0.97, "kNN \(knnAccuracy) on \(backend.name)")
            // Only the points next to a boundary have their nearest neighbour across it.
            #expect(margin.positiveShare > 0.98 && margin.mean > 0, "margin \(margin.positiveShare), \(margin.mean) on \(backend.name)")
        }
    }

    @Test("a representation's scores: kNN with the whole bank and with its first 10 000 images, margins on the test features",
          .disabled(if: Oclgrind.isRunning, "no kernel of its own; a 10 000-image kNN interpreted takes minutes"))
    func scoresBothBanks() throws {
        let backend: any Backend = TestBackends.openCL ?? TestBackends.reference
        let bank = try evalRandomFeatures(10_050, 3, seed: 4), test = try evalRandomFeatures(40, 3, seed: 5)
        let (bankLabels, testLabels) = (evalRandomLabels(10_050, classes: 3, seed: 6), evalRandomLabels(40, classes: 3, seed: 7))
        let scores = try RepresentationEvaluation.score(train: bank, trainLabels: bankLabels, test: test, testLabels: testLabels,
                                                        linearProbe: false, on: backend)
        let small = try FeatureMatrix(values: Array(bank.values.prefix(30_000)), rows: 10_000, columns: 3)
        let expected = try KNNClassifier().classify(train: small, labels: Array(bankLabels.prefix(10_000)), test: test, on: backend)
        #expect(scores.knnTop1SmallBank == (try EvalMetrics.accuracy(predictions: expected.predictions, labels: testLabels)))
        let margin = try NearestNeighbourMargin(metric: .cosine).evaluate(test, labels: testLabels, on: backend)
        #expect(scores.marginCosine == MarginScore(margin) && scores.linearProbe == nil)
        let few = try RepresentationEvaluation.score(train: small, trainLabels: Array(bankLabels.prefix(10_000)), test: test,
                                                     testLabels: testLabels, linearProbe: false, on: backend)
        #expect(few.knnTop1SmallBank == nil, "a bank of 10 000 or fewer has no smaller one")
    }
}
