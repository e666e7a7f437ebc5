// Weighted k-nearest-neighbour classification of frozen features (Wu et al. 2018; DINO's
// eval_knn.py), chunked so that the test × train similarity matrix never exists whole.
import SSLCore

/// Weighted kNN on L2-normalised features, as DINO's `knn_classifier` (facebookresearch/dino
/// eval_knn.py, after Wu et al., CVPR 2018, eq. 5).
///
/// For each test sample: cosine similarities to every train sample, the `k` most similar (ties to
/// the lower train index), votes Σ exp(s/T) per class over those neighbours, and the arg-max class
/// (ties to the lowest label). The votes are reported scaled by exp(−s_best/T), which changes no
/// arg-max and keeps them finite for any T (see ``EvalOps/knnVotes(_:labels:classes:temperature:)``).
///
/// On the device: test rows in chunks of ``testChunk``, train rows in chunks of ``trainChunk``; each
/// (test, train) block of normalised features is folded into the running top-k of its test rows
/// by ``EvalOps/similarityTopK(_:_:k:columnOffset:merging:)``: on OpenCL one fused kernel that never
/// writes the block's similarities to memory (``KNNVariant/fused``), or a GEMM and a top-k that hold
/// one `testChunk × trainChunk` block at a time (``KNNVariant/unfused``). DINO scores 100 chunks of
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
    /// - Throws: ``SSLError`` when the feature counts differ, `labels` does not have N entries,
    ///   k is not in 1...N (or above ``EvalReference/maxK``), T is not positive, or a chunk size is < 1.
    public func classify(train: FeatureMatrix, labels: [Int], test: FeatureMatrix,
                         on backend: any Backend) throws -> KNNPredictions {
        let op = "knn"
        guard train.columns == test.columns else {
            throw SSLError.shapeMismatch(op: op, detail: "train features have \(train.columns) columns but test features \(test.columns)")
        }
        guard labels.count == train.rows else {
            throw SSLError.shapeMismatch(op: op, detail: "\(labels.count) train labels for \(train.rows) train samples")
        }
        guard k >= 1, k <= train.rows else {
            throw SSLError.invalidArgument(op: op, detail: "k = \(k) must be in 1...\(train.rows), the number of train samples")
        }
        guard temperature > 0, temperature.isFinite else {
            throw SSLError.invalidArgument(op: op, detail: "temperature must be a positive finite number, got \(temperature)")
        }
        try evalRequirePositive(testChunk, "testChunk", op: op)
        try evalRequirePositive(trainChunk, "trainChunk", op: op)
        let (codes, classes) = EvalReference.encode(labels)

        // F.normalize(x, dim=1) as DINO: x / max(‖x‖, 1e-12). Train chunks stay on the device throughout.
        let trainBlocks = try train.chunks(of: trainChunk).map { range in
            (range.lowerBound, try backend.l2Normalize(try train.upload(range, on: backend), eps: 1e-12))
        }
        var predictions: [Int] = [], votes: [Float] = []
        predictions.reserveCapacity(test.rows)
        votes.reserveCapacity(test.rows * classes.count)
        for range in test.chunks(of: testChunk) {
            let queries = try backend.l2Normalize(try test.upload(range, on: backend), eps: 1e-12)
            var best: TopKResult? = nil
            for (offset, block) in trainBlocks {
                best = try backend.similarityTopK(queries, block, k: k, columnOffset: offset, merging: best)
            }
            let result = try backend.knnVotes(best!, labels: codes, classes: classes.count, temperature: temperature)
            predictions += try backend.download(result.predictions).map { classes[Int($0)] }
            votes += try backend.download(result.votes)
        }
        return KNNPredictions(predictions: predictions, votes: votes, classes: classes)
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
