// Frozen features on the host, as the evaluators take them: N rows of D float32 features.

/// N samples of D features, row-major on the host: what the evaluators read, cut into chunks and
/// upload piece by piece, so that no evaluator needs an N×N matrix on the device.
///
/// ```swift
/// let train = try FeatureMatrix(values: array.floats(), rows: array.shape[0], columns: array.shape[1])
/// ```
public struct FeatureMatrix: Sendable {
    /// `(rows, columns)` row-major.
    public let values: [Float]
    /// N, the number of samples.
    public let rows: Int
    /// D, the number of features.
    public let columns: Int

    /// - Throws: `SSLError` unless `values` fills `(rows, columns)` with both ≥ 1 and every value finite.
    public init(values: [Float], rows: Int, columns: Int, name: String = "features") throws {
        guard rows >= 1, columns >= 1, values.count == rows * columns else {
            throw SSLError.shapeMismatch(op: "FeatureMatrix", detail: "\(name): \(values.count) values do not fill "
                                         + "a non-empty (\(rows), \(columns)) matrix")
        }
        guard values.allSatisfy({ $0.isFinite }) else { throw SSLError.nonFinite(what: name) }
        self.values = values
        self.rows = rows
        self.columns = columns
    }

    /// Rows `range` as a `(range.count, D)` tensor on `backend`.
    func upload(_ range: Range<Int>, on backend: any Backend) throws -> Tensor {
        try backend.upload(Array(values[(range.lowerBound * columns)..<(range.upperBound * columns)]),
                           shape: [range.count, columns])
    }

    /// The features minus their column means, computed in Double: euclidean distances do not
    /// change, and their float32 GEMM form ‖x‖² + ‖y‖² − 2x·y loses less to cancellation.
    func centred() throws -> FeatureMatrix {
        var mean = [Double](repeating: 0, count: columns)
        for i in 0..<rows { for j in 0..<columns { mean[j] += Double(values[i * columns + j]) } }
        mean = mean.map { $0 / Double(rows) }
        let centred = values.enumerated().map { Float(Double($1) - mean[$0 % columns]) }
        return try FeatureMatrix(values: centred, rows: rows, columns: columns)
    }

    /// The blocking of the pairwise evaluators (``Silhouette``, ``NearestNeighbourMargin``): the
    /// points (centred for the euclidean metric), their row chunks of at most `rowChunk`, and
    /// their column chunks of at most `columnChunk`, uploaded once.
    func distanceBlocks(metric: DistanceMetric, rowChunk: Int, columnChunk: Int, op: String,
                        on backend: any Backend) throws -> (points: FeatureMatrix, rows: [Range<Int>],
                                                            columns: [(range: Range<Int>, tensor: Tensor)]) {
        try evalRequirePositive(rowChunk, "rowChunk", op: op)
        try evalRequirePositive(columnChunk, "columnChunk", op: op)
        let points = metric == .euclidean ? try centred() : self
        let columns = try points.chunks(of: columnChunk).map { ($0, try points.upload($0, on: backend)) }
        return (points, points.chunks(of: rowChunk), columns)
    }

    /// Consecutive row ranges of at most `size` rows covering all rows.
    func chunks(of size: Int) -> [Range<Int>] {
        stride(from: 0, to: rows, by: size).map { $0..<min($0 + size, rows) }
    }
}

/// Scores of predictions.
public enum EvalMetrics {
    /// The share of `predictions` equal to `labels` (top-1 accuracy), in [0, 1].
    public static func accuracy(predictions: [Int], labels: [Int]) throws -> Double {
        guard predictions.count == labels.count, !labels.isEmpty else {
            throw SSLError.shapeMismatch(op: "accuracy", detail: "\(predictions.count) predictions for \(labels.count) labels")
        }
        return Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }
}

/// Throws unless `value` ≥ 1: chunk sizes and iteration counts.
func evalRequirePositive(_ value: Int, _ name: String, op: String) throws {
    guard value >= 1 else { throw SSLError.invalidArgument(op: op, detail: "\(name) must be at least 1, got \(value)") }
}
