// Weighted k-nearest-neighbour classification of frozen features (Wu et al. 2018; DINO's
// eval_knn.py), chunked so that the test × train similarity matrix never exists whole.
import SSLCore

/// Weighted kNN on L2-normalised features, as DINO's `knn_classifier` (facebookresearch/dino
/// eval_knn.py, after Wu et al., CVPR 2018, eq. 5).
///
/// For each test sample: cosine similarities to every train sample, the `k` most similar (ties to
/// the lower train index), votes Σ exp(s/T) per class over those neighbours, and the arg-max class
/// (ties to the lowest label). The votes are reported scaled by exp(−s_best/T), which changes no
/// arg-max and keeps them finite for any T (see `EvalOps.knnVotes(_:labels:classes:temperature:)`).
///
/// On the device: test rows in chunks of ``testChunk``, train rows in chunks of ``trainChunk``; each
/// (test, train) block of normalised features is folded into the running top-k of its test rows
/// by `EvalOps.similarityTopK(_:_:k:columnOffset:merging:)`: on OpenCL one fused kernel that never
/// writes the block's similarities to memory (`KNNVariant.fused`), or a GEMM and a top-k that hold
/// one `testChunk × trainChunk` block at a time (`KNNVariant.unfused`). DINO scores 100 chunks of
/// test rows against the whole train set; the result is the same.
///
/// ```swift
/// let knn = KNNClassifier()                                  // k = 20, T = 0.07 (DINO's defaults)
/// let result = try knn.classify(train: train, labels: trainLabels, test: test, on: backend)
/// print(try EvalMetrics.accuracy(predictions: result.predictions, labels: testLabels))
/// ```
public struct KNNClassifier: Sendable {
    /// The number of neighbours: 20 by default (DINO: "20 is usually working the best"; it also reports 10, 100 and 200).
    public var k: Int
    /// The vote temperature T: 0.07 by default (DINO's `--temperature`, Wu et al.'s τ).
    public var temperature: Float
    /// Test rows per similarity block.
    public var testChunk: Int
    /// Train rows per similarity block.
    public var trainChunk: Int

    /// A classifier with DINO's k and T unless given; the chunk sizes bound the similarity block on the device.
    public init(k: Int = EvalReference.defaultK, temperature: Float = EvalReference.defaultTemperature,
                testChunk: Int = 1024, trainChunk: Int = 16384) {
        self.k = k
        self.temperature = temperature
        self.testChunk = testChunk
        self.trainChunk = trainChunk
    }

    /// Predicts a label for every test row.
    ///
    /// - Parameters:
    ///   - train: `(N, D)` features of the labelled samples.
    ///   - labels: N integer labels (any values; votes run over the sorted distinct ones).
    ///   - test: `(M, D)` features to classify.
    ///   - backend: where the similarities and the selection run.
    /// - Throws: `SSLError` when the feature counts differ, `labels` does not have N entries,
    ///   k is not in 1...N (or above `EvalReference.maxK`), T is not positive, or a chunk size is < 1.
    public func classify(train: FeatureMatrix, labels: [Int], test: FeatureMatrix,
                         on backend: any Backend) throws -> KNNPredictions {
        try classify(share: train, at: 0, labels: labels, test: test, group: .local(), on: backend)
    }

    /// Data-parallel kNN: the labelled bank is split over the ranks of `group`, each holding
    /// `share` = rows `offset ..< offset + share.rows` of it, and every rank classifies the same
    /// `test` rows. Each rank finds the top k of its share per test row; the ranks' lists are
    /// gathered (M·k values and indices from each) and merged with the same order — larger
    /// similarity, then lower bank index — so the predictions equal a single process's on the
    /// whole bank.
    /// - Parameters:
    ///   - train: this rank's share of the bank's features.
    ///   - offset: the bank row of the share's first row.
    ///   - labels: the labels of the whole bank (N, every rank's rows).
    ///   - test: `(M, D)` features to classify, the same on every rank.
    ///   - group: the ranks holding the bank.
    ///   - backend: where this rank's similarities and selection run.
    public func classify(share train: FeatureMatrix, at offset: Int, labels: [Int], test: FeatureMatrix,
                         group: DataParallel, on backend: any Backend) throws -> KNNPredictions {
        let op = "knn"
        guard train.columns == test.columns else {
            throw SSLError.shapeMismatch(op: op, detail: "train features have \(train.columns) columns but test features \(test.columns)")
        }
        guard offset >= 0, offset + train.rows <= labels.count, group.size > 1 || labels.count == train.rows else {
            throw SSLError.shapeMismatch(op: op, detail: "\(labels.count) train labels for \(train.rows) train samples"
                                         + (group.size > 1 ? " at offset \(offset)" : ""))
        }
        guard k >= 1, k <= labels.count else {
            throw SSLError.invalidArgument(op: op, detail: "k = \(k) must be in 1...\(labels.count), the number of train samples")
        }
        guard temperature > 0, temperature.isFinite else {
            throw SSLError.invalidArgument(op: op, detail: "temperature must be a positive finite number, got \(temperature)")
        }
        try evalRequirePositive(testChunk, "testChunk", op: op)
        try evalRequirePositive(trainChunk, "trainChunk", op: op)
        let (codes, classes) = EvalReference.encode(labels)

        // F.normalize(x, dim=1) as DINO: x / max(‖x‖, 1e-12). Train chunks stay on the device throughout.
        let trainBlocks = try train.chunks(of: trainChunk).map { range in
            (offset + range.lowerBound, try backend.l2Normalize(try train.upload(range, on: backend), eps: 1e-12))
        }
        var predictions: [Int] = [], votes: [Float] = []
        predictions.reserveCapacity(test.rows)
        votes.reserveCapacity(test.rows * classes.count)
        for range in test.chunks(of: testChunk) {
            let queries = try backend.l2Normalize(try test.upload(range, on: backend), eps: 1e-12)
            var best: TopKResult? = nil
            for (start, block) in trainBlocks {
                best = try backend.similarityTopK(queries, block, k: k, columnOffset: start, merging: best)
            }
            let neighbours = group.size > 1 ? try merged(best, rows: range.count, group: group, on: backend) : best!
            let result = try backend.knnVotes(neighbours, labels: codes, classes: classes.count, temperature: temperature)
            predictions += try backend.download(result.predictions).map { classes[Int($0)] }
            votes += try backend.download(result.votes)
        }
        return KNNPredictions(predictions: predictions, votes: votes, classes: classes)
    }

    /// Every rank's top-k lists of the same `rows` test rows merged into the group's top k. A
    /// rank whose share is empty contributes empty slots (−∞, index −1).
    private func merged(_ local: TopKResult?, rows: Int, group: DataParallel, on backend: any Backend) throws -> TopKResult {
        let values = try local.map { try backend.download($0.values) } ?? [Float](repeating: -.infinity, count: rows * k)
        let indices = try local.map { try backend.download($0.indices) } ?? [Float](repeating: -1, count: rows * k)
        let allValues = try group.gatherFloats(values, purpose: "kNN"), allIndices = try group.gatherFloats(indices, purpose: "kNN")
        var bestValues: [Float] = [], bestIndices: [Float] = []
        bestValues.reserveCapacity(rows * k)
        bestIndices.reserveCapacity(rows * k)
        for row in 0..<rows {
            let candidates = (0..<group.size).flatMap { r in (0..<k).map { (r * rows + row) * k + $0 } }
            // topK's order: the larger value first (NaN as −∞), then the lower index; empty slots last.
            let order = candidates.sorted { a, b in
                let (va, vb) = (allValues[a].isNaN ? -Float.infinity : allValues[a], allValues[b].isNaN ? -Float.infinity : allValues[b])
                let (ia, ib) = (allIndices[a], allIndices[b])
                if (ia < 0) != (ib < 0) { return ib < 0 }
                return va != vb ? va > vb : ia < ib
            }
            for c in order.prefix(k) {
                bestValues.append(allValues[c])
                bestIndices.append(allIndices[c])
            }
        }
        return try TopKResult(values: try backend.upload(bestValues, shape: [rows, k]),
                              indices: try backend.upload(bestIndices, shape: [rows, k]))
    }
}

/// What ``KNNClassifier/classify(train:labels:test:on:)`` returns.
public struct KNNPredictions: Sendable {
    /// The predicted label of each test row.
    public let predictions: [Int]
    /// `(M, classes.count)` row-major: each class's vote, the best neighbour weighing 1.
    public let votes: [Float]
    /// The sorted distinct train labels: the columns of ``votes``.
    public let classes: [Int]
}
