// Helpers of the evaluation tests (Eval*Tests.swift): fixtures of Tests/Fixtures/eval/eval.py,
// seeded features, and the plain brute-force definitions the device paths are checked against.
import Foundation
@testable import SSLCore
@testable import SSLTrain

enum EvalFixtures {
    static func path(_ name: String) -> String { Fixtures.path("eval/" + name) }

    static func features(_ name: String) throws -> FeatureMatrix {
        let f = try Fixtures.floats("eval/" + name)
        return try FeatureMatrix(values: f.values, rows: f.shape[0], columns: f.shape[1])
    }

    static func integers(_ name: String) throws -> [Int] {
        try NumPy.read(path(name)).integers().map { Int($0) }
    }

    static func doubles(_ name: String) throws -> [Double] { try Fixtures.doubles("eval/" + name).values }
}

/// `rows × columns` features uniform in [−1, 1) from `seed`.
func evalRandomFeatures(_ rows: Int, _ columns: Int, seed: UInt64, scale: Float = 1) throws -> FeatureMatrix {
    var rng = SeededRandom(seed: seed)
    return try FeatureMatrix(values: rng.uniform(rows * columns, scale: scale), rows: rows, columns: columns)
}

/// Labels in 0..<classes from `seed`, every class present when rows ≥ classes.
func evalRandomLabels(_ rows: Int, classes: Int, seed: UInt64) -> [Int] {
    var rng = SeededRandom(seed: seed)
    return (0..<rows).map { $0 < classes ? $0 : Int(rng.next() % UInt64(classes)) }
}

/// The k best (value, index) of each row by sorting every entry: larger value first, equal
/// values by lower index; NaN as −∞; missing entries as (−∞, −1).
func evalBruteTopK(_ scores: [Float], rows: Int, cols: Int, k: Int) -> (values: [Float], indices: [Float]) {
    var values: [Float] = [], indices: [Float] = []
    for r in 0..<rows {
        let row = (0..<cols).map { scores[r * cols + $0].isNaN ? -Float.infinity : scores[r * cols + $0] }
        let order = (0..<cols).sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
        for p in 0..<k {
            values.append(p < cols ? row[order[p]] : -.infinity)
            indices.append(p < cols ? Float(order[p]) : -1)
        }
    }
    return (values, indices)
}

/// Weighted kNN written as DINO's knn_classifier reads: cosine similarities of normalised rows,
/// the k largest (ties to the lower index), votes Σ exp(s/T) per label, the first largest vote.
/// Returns the predicted labels and the votes over the sorted distinct labels, in DINO's scale.
func evalBruteKNN(train: FeatureMatrix, labels: [Int], test: FeatureMatrix, k: Int,
                  temperature: Double) -> (predictions: [Int], votes: [[Double]]) {
    func unit(_ f: FeatureMatrix, _ i: Int) -> [Double] {
        let row = (0..<f.columns).map { Double(f.values[i * f.columns + $0]) }
        let norm = sqrt(row.reduce(0) { $0 + $1 * $1 })
        return row.map { $0 / max(norm, 1e-12) }
    }
    let classes = Array(Set(labels)).sorted()
    let a = (0..<train.rows).map { unit(train, $0) }
    var predictions: [Int] = [], votes: [[Double]] = []
    for t in 0..<test.rows {
        let q = unit(test, t)
        let s = a.map { zip($0, q).reduce(0) { $0 + $1.0 * $1.1 } }
        let neighbours = (0..<train.rows).sorted { s[$0] > s[$1] || (s[$0] == s[$1] && $0 < $1) }.prefix(k)
        var v = [Double](repeating: 0, count: classes.count)
        for j in neighbours { v[classes.firstIndex(of: labels[j])!] += exp(s[j] / temperature) }
        var best = 0
        for c in 1..<max(classes.count, 1) where v[c] > v[best] { best = c }
        predictions.append(classes[best])
        votes.append(v)
    }
    return (predictions, votes)
}

/// The silhouette written from its definition: a = mean distance to the rest of the own cluster,
/// b = the smallest mean distance to another cluster, s = (b − a)/max(a, b), 0 for a singleton.
func evalBruteSilhouette(_ f: FeatureMatrix, labels: [Int], cosine: Bool) -> [Double] {
    let n = f.rows, d = f.columns
    func row(_ i: Int) -> [Double] { (0..<d).map { Double(f.values[i * d + $0]) } }
    func distance(_ i: Int, _ j: Int) -> Double {
        if i == j { return 0 }
        let x = row(i), y = row(j)
        if cosine {
            let nx = sqrt(x.reduce(0) { $0 + $1 * $1 }), ny = sqrt(y.reduce(0) { $0 + $1 * $1 })
            let similarity = nx == 0 || ny == 0 ? 0 : zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } / (nx * ny)
            return min(max(1 - similarity, 0), 2)
        }
        return sqrt(zip(x, y).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) })
    }
    return (0..<n).map { i in
        let own = (0..<n).filter { labels[$0] == labels[i] }
        guard own.count > 1 else { return 0 }
        let a = own.reduce(0) { $0 + distance(i, $1) } / Double(own.count - 1)
        let b = Set(labels).subtracting([labels[i]]).map { c in
            let members = (0..<n).filter { labels[$0] == c }
            return members.reduce(0) { $0 + distance(i, $1) } / Double(members.count)
        }.min()!
        return max(a, b) > 0 ? (b - a) / max(a, b) : 0
    }
}
