// The silhouette of a clustering (Rousseeuw 1987) as scikit-learn computes it, on the device in
// chunks: pairwise distances by GEMM, per-cluster distance sums by a second GEMM with one-hot labels.
import Foundation
import SSLCore

/// scikit-learn's `silhouette_samples` and `silhouette_score` (sklearn.metrics, default
/// `metric="euclidean"`; `"cosine"` too).
///
/// For sample i in cluster l: a(i) = the mean distance to the other members of l, b(i) = the
/// smallest mean distance to the members of another cluster, s(i) = (b − a) / max(a, b), and
/// s(i) = 0 when l has one member. The score is the mean of s. Labels may be any integers; like
/// scikit-learn, 2...N−1 distinct labels are required.
///
/// On the device, rows in chunks of ``rowChunk`` against columns in chunks of ``columnChunk``:
/// each block of distances (`EvalOps.pairwiseDistances(_:_:metric:diagonalOffset:)`) is
/// multiplied by the block's one-hot labels `(C, L)` and added into the rows' per-cluster sums
/// `(R, L)`; then `EvalOps.silhouetteSamples(_:labels:clusterSizes:)`. For the euclidean metric
/// the features are first centred (in Double, on the host): distances do not change, and the
/// float32 GEMM form ‖x‖² + ‖y‖² − 2x·y loses less to cancellation. The one-hot labels take
/// N × L floats on the device, the features N × D twice (row and column blocks).
///
/// ```swift
/// let s = try Silhouette(metric: .cosine).samples(features, labels: clusters, on: backend)
/// let score = try Silhouette().score(features, labels: clusters, on: backend)
/// ```
public struct Silhouette: Sendable {
    /// scikit-learn's default is euclidean.
    public var metric: DistanceMetric
    /// Rows of a distance block.
    public var rowChunk: Int
    /// Columns of a distance block.
    public var columnChunk: Int

    /// scikit-learn's euclidean metric unless given; the chunk sizes bound the distance block on the device.
    public init(metric: DistanceMetric = .euclidean, rowChunk: Int = 1024, columnChunk: Int = 8192) {
        self.metric = metric
        self.rowChunk = rowChunk
        self.columnChunk = columnChunk
    }

    /// s(i) for every sample, as `silhouette_samples(X, labels, metric=metric)`.
    /// - Parameters: features: `(N, D)`; labels: N cluster labels with 2...N−1 distinct values.
    /// - Throws: `SSLError` when `labels` does not have N entries, the number of distinct
    ///   labels is outside 2...N−1, or a chunk size is < 1.
    public func samples(_ features: FeatureMatrix, labels: [Int], on backend: any Backend) throws -> [Float] {
        let op = "silhouette"
        guard labels.count == features.rows else {
            throw SSLError.shapeMismatch(op: op, detail: "\(labels.count) labels for \(features.rows) samples")
        }
        let (codes, classes) = EvalReference.encode(labels)
        try EvalReference.checkNumberOfLabels(classes.count, samples: features.rows, op: op)
        let l = classes.count
        var sizes = [Int](repeating: 0, count: l)
        for c in codes { sizes[c] += 1 }
        let (points, rowChunks, columns) = try features.distanceBlocks(metric: metric, rowChunk: rowChunk, columnChunk: columnChunk,
                                                                       op: op, on: backend)
        let columnBlocks = try columns.map { range, y -> (Int, Tensor, Tensor) in
            var oneHot = [Float](repeating: 0, count: range.count * l)
            for (row, j) in range.enumerated() { oneHot[row * l + codes[j]] = 1 }
            return (range.lowerBound, y, try backend.upload(oneHot, shape: [range.count, l]))
        }
        var result: [Float] = []
        result.reserveCapacity(features.rows)
        for range in rowChunks {
            let x = try points.upload(range, on: backend)
            let sums = try backend.zeros([range.count, l])
            for (start, y, oneHot) in columnBlocks {
                let distances = try backend.pairwiseDistances(x, y, metric: metric, diagonalOffset: range.lowerBound - start)
                try backend.gemm(distances, oneHot, transposeA: false, transposeB: false, alpha: 1, beta: 1, into: sums)
            }
            let s = try backend.silhouetteSamples(sums, labels: Array(codes[range]), clusterSizes: sizes)
            result += try backend.download(s)
        }
        return result
    }

    /// The mean silhouette, as `silhouette_score(X, labels, metric=metric)`.
    public func score(_ features: FeatureMatrix, labels: [Int], on backend: any Backend) throws -> Double {
        Self.score(of: try samples(features, labels: labels, on: backend))
    }

    /// The mean of silhouette values, accumulated in Double.
    public static func score(of samples: [Float]) -> Double {
        samples.reduce(0.0) { $0 + Double($1) } / Double(max(samples.count, 1))
    }
}
