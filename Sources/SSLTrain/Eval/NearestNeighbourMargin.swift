// The nearest-neighbour margin: how much closer each point's nearest neighbour of its own class is
// than its nearest neighbour of another class. A local measure, like kNN, but without k or T.
import SSLCore

/// The nearest-neighbour margin of labelled features.
///
/// For sample i of class y: `m(i) = d(i, nearest sample of another class) − d(i, nearest other
/// sample of class y)`. It is positive where the nearest neighbour shares the label (1-NN is
/// right, leave-one-out), and its size says by how much. Reported as the mean margin and the share
/// of samples with a positive margin. Samples whose class has no other member, or whose data has
/// no other class, have no margin and are left out of both.
///
/// Why a local measure: a linear probe asks whether classes are linearly separable, which ReLU
/// networks make true of more and more subsets layer by layer; the margin asks whether neighbours
/// agree, which is what kNN retrieval and clustering use. On three stripes (classes 0 | 1 | 0
/// along one axis) the probe tops out near 2/3 while every margin is positive.
///
/// On the device, rows in chunks of ``rowChunk`` against columns in chunks of ``columnChunk``, as
/// ``Silhouette``: each block of distances (`EvalOps.pairwiseDistances(_:_:metric:diagonalOffset:)`)
/// is folded into each row's two minima
/// (`EvalOps.nearestByClass(_:rowLabels:columnLabels:diagonalOffset:merging:)`), so no N×N
/// matrix exists. Euclidean features are centred first (in Double), as ``Silhouette`` does.
///
/// ```swift
/// let m = try NearestNeighbourMargin(metric: .cosine).evaluate(features, labels: labels, on: backend)
/// print(m.mean, m.positiveShare)
/// ```
public struct NearestNeighbourMargin: Sendable {
    public var metric: DistanceMetric
    /// Rows of a distance block.
    public var rowChunk: Int
    /// Columns of a distance block.
    public var columnChunk: Int

    public init(metric: DistanceMetric = .euclidean, rowChunk: Int = 1024, columnChunk: Int = 8192) {
        self.metric = metric
        self.rowChunk = rowChunk
        self.columnChunk = columnChunk
    }

    /// The margins of one set of labelled features.
    public struct Result: Sendable, Equatable {
        /// m(i) for every sample; nil where it has none (no other member of its class, or no other class).
        public let samples: [Float?]
        /// The mean of the defined margins (0 when none is).
        public let mean: Double
        /// The share of the defined margins that are positive (0 when none is).
        public let positiveShare: Double
    }

    /// - Parameters: features: `(N, D)`; labels: N class labels (any integers).
    /// - Throws: `SSLError` when `labels` does not have N entries or a chunk size is < 1.
    public func evaluate(_ features: FeatureMatrix, labels: [Int], on backend: any Backend) throws -> Result {
        let op = "nearestNeighbourMargin"
        guard labels.count == features.rows else {
            throw SSLError.shapeMismatch(op: op, detail: "\(labels.count) labels for \(features.rows) samples")
        }
        let (codes, _) = EvalReference.encode(labels)
        let (points, rowChunks, columnBlocks) = try features.distanceBlocks(metric: metric, rowChunk: rowChunk,
                                                                            columnChunk: columnChunk, op: op, on: backend)
        var samples: [Float?] = []
        samples.reserveCapacity(features.rows)
        for range in rowChunks {
            let x = try points.upload(range, on: backend)
            var nearest: NearestByClass? = nil
            for (columns, y) in columnBlocks {
                let distances = try backend.pairwiseDistances(x, y, metric: metric, diagonalOffset: range.lowerBound - columns.lowerBound)
                nearest = try backend.nearestByClass(distances, rowLabels: Array(codes[range]), columnLabels: Array(codes[columns]),
                                                     diagonalOffset: range.lowerBound - columns.lowerBound, merging: nearest)
            }
            guard let nearest else { continue }
            let (own, other) = (try backend.download(nearest.own), try backend.download(nearest.other))
            samples += zip(own, other).map { own, other in own.isFinite && other.isFinite ? other - own : nil }
        }
        let defined = samples.compactMap { $0 }
        let count = Double(max(defined.count, 1))
        return Result(samples: samples, mean: defined.reduce(0.0) { $0 + Double($1) } / count,
                      positiveShare: Double(defined.filter { $0 > 0 }.count) / count)
    }
}
