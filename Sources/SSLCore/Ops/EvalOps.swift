// The device ops of evaluating frozen features: a merging top-k selection and the weighted-kNN
// vote (Wu et al. 2018, DINO's eval_knn.py), pairwise distances and the per-sample silhouette
// (scikit-learn's silhouette_samples). Their result types and shape rules are here; the Double
// definitions are in EvalReference.swift, the chunking loops in SSLTrain (Sources/SSLTrain/Eval/).

/// Evaluation ops on the device: k-nearest-neighbour selection and voting, pairwise distances and
/// silhouette values. Large problems are cut into chunks by the caller (SSLTrain's
/// `KNNClassifier` and `Silhouette`), so no op ever needs an N×N matrix.
///
/// ```swift
/// var best: TopKResult? = nil
/// for (offset, chunk) in trainChunks {                       // (C, D) each, L2-normalised
///     let s = try backend.matmul(test, chunk, transposeB: true)    // (R, C) cosine similarities
///     best = try backend.topK(s, k: 20, columnOffset: offset, merging: best)
/// }
/// let votes = try backend.knnVotes(best!, labels: trainLabels, classes: 10, temperature: 0.07)
/// ```
public protocol EvalOps {
    /// The `k` largest scores of each row among the running selection and the columns of `scores`.
    ///
    /// Entries are ordered by value, largest first; equal values by index, lowest first (so the
    /// result does not depend on how the columns were chunked). NaN counts as −∞. Slots left when
    /// fewer than `k` entries exist so far are empty: value −∞ and index −1, after every real entry.
    /// - Parameters:
    ///   - scores: `(R, C)`; column `j` is entry `columnOffset + j`.
    ///   - k: how many entries to keep, 1 ≤ k ≤ ``EvalReference/maxK``.
    ///   - columnOffset: the index of column 0; ≥ 0, and `columnOffset + C` ≤ 2²⁴ so that indices
    ///     stay exact integers in float32.
    ///   - running: the selection so far, `(R, k)` each, over columns that do not overlap these; nil at first.
    /// - Returns: the new selection, `(R, k)` values and `(R, k)` float-valued indices.
    func topK(_ scores: Tensor, k: Int, columnOffset: Int, merging running: TopKResult?) throws -> TopKResult

    /// The `k` largest similarities `queries · keysᵀ` of each query row among the running
    /// selection and these keys: ``topK(_:k:columnOffset:merging:)`` of
    /// `matmul(queries, keys, transposeB: true)`, in the same order (ties to the lower index).
    ///
    /// On OpenCL the similarities are computed in tiles and folded into the selection in one
    /// kernel, so the (R, C) matrix never exists in device memory (``KNNVariant/fused``); float32
    /// dot products summed in another order than CLBlast's may round differently, which can reorder
    /// entries whose similarities differ by rounding alone.
    /// - Parameters:
    ///   - queries: `(R, D)`.
    ///   - keys: `(C, D)`; key row `j` is entry `columnOffset + j`.
    ///   - k: the neighbours kept per row, as in ``topK(_:k:columnOffset:merging:)``.
    ///   - columnOffset: the entry number of key row 0.
    ///   - running: the lists so far, merged with this chunk's; nil at first.
    /// - Returns: `(R, k)` values and `(R, k)` float-valued indices.
    func similarityTopK(_ queries: Tensor, _ keys: Tensor, k: Int, columnOffset: Int,
                        merging running: TopKResult?) throws -> TopKResult

    /// Weighted kNN votes (Wu et al. 2018, eq. 5; DINO's `knn_classifier`) and the arg-max class.
    ///
    /// `votes_rc = Σ_{p : labels[idx_rp] = c} exp((s_rp − s_r0)/T)` over the row's neighbours,
    /// where `s_r0` is the row's best similarity. DINO weighs by `exp(s/T)`; the common factor
    /// `exp(−s_r0/T)` leaves the arg-max unchanged and keeps every weight in (0, 1], so no T
    /// overflows. The prediction is the arg-max, ties going to the lowest class index. Empty slots
    /// (index −1) and indices not below `labels.count` cast no vote; a row without votes predicts 0.
    /// - Parameters:
    ///   - neighbours: a ``TopKResult`` `(R, k)`, e.g. from ``topK(_:k:columnOffset:merging:)``.
    ///   - labels: the class of each candidate (train sample), in `0..<classes`.
    ///   - classes: the number of classes C ≥ 1.
    ///   - temperature: T > 0 (DINO's default 0.07).
    /// - Returns: votes `(R, C)` and predictions `(R)` (float-valued class indices).
    func knnVotes(_ neighbours: TopKResult, labels: [Int], classes: Int, temperature: Float) throws -> KNNVotesResult

    /// Distances between the rows of `x` and of `y`, as scikit-learn's `pairwise_distances`.
    ///
    /// Euclidean: `sqrt(max(‖x_i‖² + ‖y_j‖² − 2 x_i·y_j, 0))` (the GEMM form of
    /// `euclidean_distances`; centre the data first, as it loses `‖x‖²·2⁻²⁴` to cancellation).
    /// Cosine: `1 − x̂_i·ŷ_j`, clipped to [0, 2], with rows normalised and zero rows left zero
    /// (`cosine_distances`). A pair with `j − i == diagonalOffset` is one sample seen twice and
    /// gets 0 exactly, as scikit-learn zeroes the diagonal of `pairwise_distances(X)`.
    /// - Parameters:
    ///   - x: `(R, D)`.
    ///   - y: `(C, D)`.
    ///   - metric: euclidean or cosine.
    ///   - diagonalOffset: for chunks of one sample set, `rowStart − columnStart` (x's row i is
    ///     sample rowStart + i, y's row j sample columnStart + j); nil when x and y are distinct sets.
    /// - Returns: `(R, C)`.
    func pairwiseDistances(_ x: Tensor, _ y: Tensor, metric: DistanceMetric, diagonalOffset: Int?) throws -> Tensor

    /// Silhouette values from per-cluster distance sums (scikit-learn's `silhouette_samples`).
    ///
    /// For sample i of cluster l: `a = sums[i, l] / (n_l − 1)`, `b = min_{c ≠ l} sums[i, c] / n_c`,
    /// `s = (b − a) / max(a, b)`; s = 0 where `n_l = 1` or `a = b = 0` (scikit-learn's nan_to_num).
    /// - Parameters:
    ///   - sums: `(R, L)`: row i holds Σ_j d(i, j) over the members j of each cluster.
    ///   - labels: the cluster of each row, `R` values in `0..<L`.
    ///   - clusterSizes: n_c for each of the L ≥ 2 clusters, every one ≥ 1.
    /// - Returns: `(R)`.
    func silhouetteSamples(_ sums: Tensor, labels: [Int], clusterSizes: [Int]) throws -> Tensor

    /// The distance from each row to its nearest column of the same class and to its nearest
    /// column of another class, merged into a running pair: the two terms of the
    /// nearest-neighbour margin (SSLTrain's `NearestNeighbourMargin`).
    ///
    /// A pair with `j − i == diagonalOffset` is the row itself and is skipped. NaN distances are
    /// skipped. Where a row has no column of a kind yet, its distance is +∞.
    /// - Parameters:
    ///   - distances: `(R, C)`, e.g. from ``pairwiseDistances(_:_:metric:diagonalOffset:)``.
    ///   - rowLabels: R class labels (any integers; only equality counts).
    ///   - columnLabels: C class labels.
    ///   - diagonalOffset: as in ``pairwiseDistances(_:_:metric:diagonalOffset:)``; nil for distinct sets.
    ///   - running: the minima so far, `(R)` each, over other columns; nil at first.
    /// - Returns: `own` and `other`, `(R)` each.
    func nearestByClass(_ distances: Tensor, rowLabels: [Int], columnLabels: [Int], diagonalOffset: Int?,
                        merging running: NearestByClass?) throws -> NearestByClass
}

/// What ``EvalOps/nearestByClass(_:rowLabels:columnLabels:diagonalOffset:merging:)`` returns.
public struct NearestByClass {
    /// `(R)`: the distance to the nearest other member of the row's class (+∞ if none).
    public let own: Tensor
    /// `(R)`: the distance to the nearest member of another class (+∞ if none).
    public let other: Tensor

    /// Pairs `own` and `other`, which must have one `(R)` shape.
    public init(own: Tensor, other: Tensor) throws {
        guard own.rank == 1, own.shape == other.shape else {
            throw SSLError.shapeMismatch(op: "nearestByClass", detail: "own \(shapeText(own.shape)) and other "
                                         + "\(shapeText(other.shape)) must be one (R) shape")
        }
        (self.own, self.other) = (own, other)
    }
}

/// The distance of ``EvalOps/pairwiseDistances(_:_:metric:diagonalOffset:)``: scikit-learn's names.
public enum DistanceMetric: String, CaseIterable, Sendable {
    /// ‖x − y‖₂.
    case euclidean
    /// 1 − cos(x, y).
    case cosine
}

/// A row-wise top-k selection: what ``EvalOps/topK(_:k:columnOffset:merging:)`` returns.
public struct TopKResult {
    /// `(R, k)`, largest first; −∞ in empty slots.
    public let values: Tensor
    /// `(R, k)`: each entry's column index as an exact float; −1 in empty slots.
    public let indices: Tensor

    /// Pairs `values` and `indices`, which must have one `(R, k)` shape.
    public init(values: Tensor, indices: Tensor) throws {
        guard values.rank == 2, values.shape == indices.shape, values.shape[1] >= 1 else {
            throw SSLError.shapeMismatch(op: "topK", detail: "values \(shapeText(values.shape)) and indices "
                                         + "\(shapeText(indices.shape)) must be one (R, k) shape")
        }
        self.values = values
        self.indices = indices
    }

    /// R, the number of rows.
    public var rows: Int { values.shape[0] }
    /// k, the entries kept per row.
    public var k: Int { values.shape[1] }
}

/// What ``EvalOps/knnVotes(_:labels:classes:temperature:)`` returns.
public struct KNNVotesResult {
    /// `(R, C)`: the vote of each class, scaled so that the best neighbour weighs 1.
    public let votes: Tensor
    /// `(R)`: the arg-max class of each row as an exact float, ties to the lowest index.
    public let predictions: Tensor
}

// MARK: - Shape rules, shared by both backends

extension EvalReference {
    static func validateTopK(_ scores: [Int], k: Int, columnOffset: Int, running: TopKResult?,
                             op: String = "topK") throws -> (rows: Int, cols: Int) {
        let (rows, cols) = try Shapes.matrix(scores, op: op, name: "scores")
        guard k >= 1, k <= maxK else {
            throw SSLError.invalidArgument(op: op, detail: "k must be in 1...\(maxK), got \(k)")
        }
        guard columnOffset >= 0, columnOffset + cols <= maxIndex else {
            throw SSLError.invalidArgument(
                op: op, detail: "columns \(columnOffset)..<\(columnOffset + cols) must lie in 0..<\(maxIndex) (exact float32 indices)")
        }
        if let running, running.values.shape != [rows, k] {
            throw SSLError.shapeMismatch(op: op, detail: "the running selection is \(shapeText(running.values.shape)) "
                                         + "but scores \(shapeText(scores)) with k = \(k) need \(shapeText([rows, k]))")
        }
        return (rows, cols)
    }

    static func validateSimilarityTopK(_ queries: [Int], _ keys: [Int], k: Int, columnOffset: Int,
                                       running: TopKResult?) throws -> (rows: Int, cols: Int, depth: Int) {
        let op = "similarityTopK"
        let (rows, depth) = try Shapes.matrix(queries, op: op, name: "queries")
        let (cols, keyDepth) = try Shapes.matrix(keys, op: op, name: "keys")
        guard depth == keyDepth else {
            throw SSLError.shapeMismatch(op: op, detail: "queries \(shapeText(queries)) and keys \(shapeText(keys)) have different feature counts")
        }
        _ = try validateTopK([rows, cols], k: k, columnOffset: columnOffset, running: running, op: op)
        return (rows, cols, depth)
    }

    static func validateVotes(_ neighbours: TopKResult, labels: [Int], classes: Int, temperature: Float) throws {
        let op = "knnVotes"
        guard classes >= 1 else { throw SSLError.invalidArgument(op: op, detail: "classes must be at least 1, got \(classes)") }
        guard labels.count <= maxIndex else {
            throw SSLError.invalidArgument(op: op, detail: "\(labels.count) labels exceed the \(maxIndex) exact float32 indices")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
            throw SSLError.invalidArgument(op: op, detail: "label \(labels[bad]) at \(bad) is not in 0..<\(classes)")
        }
        guard temperature > 0, temperature.isFinite else {
            throw SSLError.invalidArgument(op: op, detail: "temperature must be a positive finite number, got \(temperature)")
        }
    }

    static func validateDistances(_ x: [Int], _ y: [Int]) throws -> (r: Int, c: Int, d: Int) {
        let op = "pairwiseDistances"
        let (r, d) = try Shapes.matrix(x, op: op, name: "x")
        let (c, dy) = try Shapes.matrix(y, op: op, name: "y")
        guard d == dy else {
            throw SSLError.shapeMismatch(op: op, detail: "x \(shapeText(x)) and y \(shapeText(y)) have different feature counts")
        }
        return (r, c, d)
    }

    static func validateSilhouette(_ sums: [Int], labels: [Int], clusterSizes: [Int]) throws -> (r: Int, l: Int) {
        let op = "silhouetteSamples"
        let (r, l) = try Shapes.matrix(sums, op: op, name: "sums")
        guard l >= 2, clusterSizes.count == l else {
            throw SSLError.shapeMismatch(op: op, detail: "sums \(shapeText(sums)) need one size for each of L ≥ 2 clusters, "
                                         + "got \(clusterSizes.count) sizes")
        }
        guard labels.count == r else {
            throw SSLError.shapeMismatch(op: op, detail: "sums \(shapeText(sums)) have \(r) rows but \(labels.count) labels were given")
        }
        if let bad = clusterSizes.firstIndex(where: { $0 < 1 }) {
            throw SSLError.invalidArgument(op: op, detail: "cluster \(bad) has size \(clusterSizes[bad]); every cluster needs a member")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= l }) {
            throw SSLError.invalidArgument(op: op, detail: "label \(labels[bad]) at row \(bad) is not in 0..<\(l)")
        }
        return (r, l)
    }

    static func validateNearestByClass(_ distances: [Int], rowLabels: [Int], columnLabels: [Int],
                                       running: NearestByClass?) throws -> (r: Int, c: Int) {
        let op = "nearestByClass"
        let (r, c) = try Shapes.matrix(distances, op: op, name: "distances")
        guard rowLabels.count == r, columnLabels.count == c else {
            throw SSLError.shapeMismatch(op: op, detail: "distances \(shapeText(distances)) need \(r) row and \(c) column labels, "
                                         + "got \(rowLabels.count) and \(columnLabels.count)")
        }
        let limit = Int(Int32.max)
        if let bad = (rowLabels + columnLabels).first(where: { $0 < -limit || $0 > limit }) {
            throw SSLError.invalidArgument(op: op, detail: "label \(bad) does not fit 32 bits")
        }
        if let running, running.own.shape != [r] {
            throw SSLError.shapeMismatch(op: op, detail: "the running minima are \(shapeText(running.own.shape)), not (\(r),)")
        }
        return (r, c)
    }
}
