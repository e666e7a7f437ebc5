// The evaluation ops in Double on row-major arrays: the reference backend's arithmetic, and the
// unchunked definitions of weighted kNN and the silhouette that SSLTrain's chunked evaluators are
// tested against.
import Foundation

/// Weighted kNN, pairwise distances and silhouette values in Double, written as their definitions.
///
/// - kNN: Wu, Xiong, Yu, Lin, "Unsupervised Feature Learning via Non-Parametric Instance
///   Discrimination", CVPR 2018, eq. 5, as DINO's `knn_classifier` (facebookresearch/dino
///   eval_knn.py) computes it: cosine similarity of L2-normalised features, the k most similar
///   train samples, class votes Σ exp(s/T), the arg-max. k = 20, T = 0.07 are DINO's defaults.
/// - Silhouette: Rousseeuw 1987, as scikit-learn's `silhouette_samples` / `silhouette_score`.
public enum EvalReference {
    /// The largest k of ``EvalOps/topK(_:k:columnOffset:merging:)``: the OpenCL kernel keeps two
    /// k-lists in local memory, 16 KiB at k = 1024 (OpenCL guarantees 32 KiB). DINO uses k ≤ 200.
    public static let maxK = 1024
    /// Indices travel as float32, exact below 2²⁴.
    public static let maxIndex = 1 << 24
    /// DINO's defaults (eval_knn.py: `--nb_knn` 20 is "usually working the best", `--temperature` 0.07).
    public static let defaultK = 20, defaultTemperature: Float = 0.07

    // MARK: - Op definitions (what the reference backend runs)

    /// Orders entries as the top-k does: real before empty (index < 0), larger value first, then lower index.
    static func better(_ a: (v: Float, i: Int), _ b: (v: Float, i: Int)) -> Bool {
        if a.i < 0 { return false }
        if b.i < 0 { return true }
        return a.v > b.v || (a.v == b.v && a.i < b.i)
    }

    /// ``EvalOps/topK(_:k:columnOffset:merging:)`` on host arrays; values are selected, never rounded.
    public static func topK(scores: [Float], rows: Int, cols: Int, k: Int, columnOffset: Int,
                            running: (values: [Float], indices: [Float])?) -> (values: [Float], indices: [Float]) {
        var values = [Float](repeating: -.infinity, count: rows * k), indices = [Float](repeating: -1, count: rows * k)
        for r in 0..<rows {
            var entries: [(v: Float, i: Int)] = (0..<cols).map { j in
                let s = scores[r * cols + j]
                return (s.isNaN ? -.infinity : s, columnOffset + j)
            }
            if let running {
                entries += (0..<k).map { (running.values[r * k + $0], Int(running.indices[r * k + $0])) }.filter { $0.i >= 0 }
            }
            entries.sort(by: better)
            for (p, e) in entries.prefix(k).enumerated() {
                values[r * k + p] = e.v
                indices[r * k + p] = Float(e.i)
            }
        }
        return (values, indices)
    }

    /// ``EvalOps/knnVotes(_:labels:classes:temperature:)`` on host arrays: votes `(R, C)` and arg-max classes.
    public static func knnVotes(values: [Float], indices: [Float], rows: Int, k: Int, labels: [Int], classes: Int,
                                temperature: Double) -> (votes: [Double], predictions: [Int]) {
        var votes = [Double](repeating: 0, count: rows * classes)
        var predictions = [Int](repeating: 0, count: rows)
        for r in 0..<rows {
            let top = Double(values[r * k])
            for p in 0..<k {
                let index = Int(indices[r * k + p])
                guard index >= 0, index < labels.count else { continue }
                votes[r * classes + labels[index]] += exp((Double(values[r * k + p]) - top) / temperature)
            }
            predictions[r] = argmax(votes[(r * classes)..<((r + 1) * classes)])
        }
        return (votes, predictions)
    }

    /// The first index of the largest value: DINO's `probs.sort(1, True)[:, 0]` with ties to the lowest class.
    public static func argmax<C: Collection>(_ row: C) -> Int where C.Element == Double {
        var best = 0, bestValue = -Double.infinity
        for (offset, v) in row.enumerated() where offset == 0 || v > bestValue { (best, bestValue) = (offset, v) }
        return best
    }

    /// ``EvalOps/pairwiseDistances(_:_:metric:diagonalOffset:)`` computed directly: Σ(x − y)² and
    /// x·y / (‖x‖‖y‖), not through the GEMM form, so it is the ground truth the GEMM form is checked against.
    public static func pairwiseDistances(x: [Double], y: [Double], r: Int, c: Int, d: Int, metric: DistanceMetric,
                                         diagonalOffset: Int?) -> [Double] {
        func norm(_ v: [Double], _ row: Int) -> Double { sqrt((0..<d).reduce(0) { $0 + v[row * d + $1] * v[row * d + $1] }) }
        let xNorms = (0..<r).map { norm(x, $0) }, yNorms = (0..<c).map { norm(y, $0) }
        var out = [Double](repeating: 0, count: r * c)
        for i in 0..<r {
            for j in 0..<c where j - i != diagonalOffset {
                switch metric {
                case .euclidean:
                    out[i * c + j] = sqrt((0..<d).reduce(0) { $0 + (x[i * d + $1] - y[j * d + $1]) * (x[i * d + $1] - y[j * d + $1]) })
                case .cosine:
                    // sklearn's normalize leaves zero rows zero: their similarity to anything is 0.
                    let dot = (0..<d).reduce(0) { $0 + x[i * d + $1] * y[j * d + $1] }
                    let similarity = xNorms[i] == 0 || yNorms[j] == 0 ? 0 : dot / (xNorms[i] * yNorms[j])
                    out[i * c + j] = min(max(1 - similarity, 0), 2)
                }
            }
        }
        return out
    }

    /// ``EvalOps/silhouetteSamples(_:labels:clusterSizes:)`` on host arrays.
    public static func silhouetteSamples(sums: [Double], r: Int, l: Int, labels: [Int], clusterSizes: [Int]) -> [Double] {
        (0..<r).map { i in
            let own = labels[i]
            guard clusterSizes[own] > 1 else { return 0 }
            let a = sums[i * l + own] / Double(clusterSizes[own] - 1)
            let b = (0..<l).filter { $0 != own }.map { sums[i * l + $0] / Double(clusterSizes[$0]) }.min()!
            let m = max(a, b)
            return m > 0 ? (b - a) / m : 0
        }
    }

    // MARK: - Unchunked definitions of the evaluators

    /// Sorted distinct labels and each label's position among them (scikit-learn's `LabelEncoder`).
    public static func encode(_ labels: [Int]) -> (codes: [Int], classes: [Int]) {
        let classes = Array(Set(labels)).sorted()
        let position = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        return (labels.map { position[$0]! }, classes)
    }

    /// Weighted-kNN predictions in Double, with the whole similarity matrix at once.
    ///
    /// Rows are normalised as `F.normalize` (divided by max(‖x‖, 1e-12)); neighbours are the k
    /// largest cosine similarities, ties to the lower train index; the votes
    /// Σ exp((s − s_best)/T) (DINO's, times exp(−s_best/T)) elect the label, ties to the lowest label.
    /// - Parameters: train: `(N, D)`; test: `(M, D)`; 1 ≤ k ≤ N.
    /// - Returns: the predicted label of each test row and the votes `(M, classes)` over the sorted distinct train labels.
    /// - Throws: ``SSLError`` when the arrays do not fit `(N, D)` and `(M, D)` or k is not in 1...N.
    public static func knnClassify(train: [Double], trainLabels: [Int], test: [Double], d: Int, k: Int,
                                   temperature: Double) throws -> (predictions: [Int], votes: [Double]) {
        let n = trainLabels.count, m = d > 0 ? test.count / d : 0
        guard d >= 1, train.count == n * d, test.count == m * d else {
            throw SSLError.shapeMismatch(op: "knnClassify", detail: "\(train.count) train and \(test.count) test values "
                                         + "do not fill (\(n), \(d)) and (M, \(d))")
        }
        guard k >= 1, k <= n else {
            throw SSLError.invalidArgument(op: "knnClassify", detail: "k = \(k) must be in 1...\(n), the number of train samples")
        }
        func normalized(_ v: [Double], _ rows: Int) -> [Double] {
            (0..<rows).flatMap { r -> [Double] in
                let row = v[(r * d)..<((r + 1) * d)]
                let norm = max(sqrt(row.reduce(0) { $0 + $1 * $1 }), 1e-12)
                return row.map { $0 / norm }
            }
        }
        let a = normalized(train, n), b = normalized(test, m)
        let (codes, classes) = encode(trainLabels)
        var votes = [Double](repeating: 0, count: m * classes.count)
        var predictions = [Int](repeating: 0, count: m)
        for t in 0..<m {
            let s = (0..<n).map { j in (0..<d).reduce(0.0) { $0 + b[t * d + $1] * a[j * d + $1] } }
            let order = (0..<n).sorted { s[$0] > s[$1] || (s[$0] == s[$1] && $0 < $1) }.prefix(k)
            for j in order { votes[t * classes.count + codes[j]] += exp((s[j] - s[order.first!]) / temperature) }
            predictions[t] = classes[argmax(votes[(t * classes.count)..<((t + 1) * classes.count)])]
        }
        return (predictions, votes)
    }

    /// The number of distinct labels must be in 2...N−1, as scikit-learn's `check_number_of_labels`.
    public static func checkNumberOfLabels(_ distinct: Int, samples: Int, op: String) throws {
        guard distinct >= 2, distinct <= samples - 1 else {
            throw SSLError.invalidArgument(
                op: op, detail: "number of labels is \(distinct); valid values are 2 to n_samples - 1 = \(samples - 1) (inclusive)")
        }
    }

    /// ``EvalOps/nearestByClass(_:rowLabels:columnLabels:diagonalOffset:merging:)`` on host arrays.
    public static func nearestByClass(distances: [Float], r: Int, c: Int, rowLabels: [Int], columnLabels: [Int],
                                      diagonalOffset: Int?, running: (own: [Float], other: [Float])?) -> (own: [Float], other: [Float]) {
        var own = running?.own ?? [Float](repeating: .infinity, count: r)
        var other = running?.other ?? [Float](repeating: .infinity, count: r)
        for i in 0..<r {
            for j in 0..<c where j - i != diagonalOffset && !distances[i * c + j].isNaN {
                let d = distances[i * c + j]
                if columnLabels[j] == rowLabels[i] { own[i] = min(own[i], d) } else { other[i] = min(other[i], d) }
            }
        }
        return (own, other)
    }

    /// scikit-learn's `silhouette_samples(X, labels, metric=metric)` in Double, all distances at once.
    /// - Parameters: features: `(N, D)`; labels: N values with 2...N−1 distinct ones.
    public static func silhouetteSamples(features: [Double], d: Int, labels: [Int], metric: DistanceMetric) throws -> [Double] {
        let n = labels.count
        try checkNumberOfLabels(Set(labels).count, samples: n, op: "silhouette")
        let (codes, classes) = encode(labels)
        let distances = pairwiseDistances(x: features, y: features, r: n, c: n, d: d, metric: metric, diagonalOffset: 0)
        var sums = [Double](repeating: 0, count: n * classes.count), sizes = [Int](repeating: 0, count: classes.count)
        for j in 0..<n { sizes[codes[j]] += 1 }
        for i in 0..<n { for j in 0..<n { sums[i * classes.count + codes[j]] += distances[i * n + j] } }
        return silhouetteSamples(sums: sums, r: n, l: classes.count, labels: codes, clusterSizes: sizes)
    }
}
