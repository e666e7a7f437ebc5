// DeepCluster: k-means pseudo-labels and cross-entropy on them (Caron et al. 2018).
import Foundation

/// DeepCluster, "Deep Clustering for Unsupervised Learning of Visual Features" (Caron et al.,
/// ECCV 2018), following facebookresearch/deepcluster `clustering.py` (`run_kmeans`, faiss
/// `Clustering` with `niter = 20`) and `main.py` (`nn.CrossEntropyLoss`, the top layer's
/// re-initialisation).
///
/// **K-means** of x `(N, D)` into K clusters, as faiss `Clustering::train` (faiss/Clustering.cpp):
///
///     init:  c_j = x[perm_j], j < K, for a seeded permutation of the N rows (K distinct rows)
///     repeat `iterations` (default 20) times:
///         a_n   = argmin_j ‖x_n − c_j‖²,  ‖x − c‖² = ‖x‖² − 2 x·cᵀ + ‖c‖² (one GEMM; lowest j on ties)
///         c_j   = Σ_{a_n = j} x_n / |{n : a_n = j}|                (sums and counts, then divide)
///         every empty cluster i, in index order, splits the largest cluster j (lowest j on ties):
///             c_i = c_j ⊙ (1 + e),  c_j ← c_j ⊙ (1 − e),  e_f = +1/1024 for even f, −1/1024 for odd f,
///             count_i = count_j / 2,  count_j −= count_i
///     result: centroids c, a_n = argmin_j ‖x_n − c_j‖² for the final c, inertia = Σ_n ‖x_n − c_{a_n}‖²
///
/// **Objective**: `L = −(1/N) Σ_n log_softmax(logits_n)[y_n]` on the pseudo-labels y, with
/// dL/dlogits = (softmax − onehot(y)) / N; after each clustering the classifier head is drawn
/// afresh: weight `(K, D)` ~ N(0, 0.01²), bias 0 (`top_layer.weight.data.normal_(0, 0.01)`,
/// `bias.data.zero_()`).
///
/// **Differences from the official code.** faiss draws the cluster to split at random with
/// probability ∝ (size − 1); here the largest one splits, so that the result is deterministic and
/// the same on every backend (faiss's symmetric ±1/1024 perturbation and even count split are
/// kept). faiss's reported objective is that of the last assignment *before* the final centroid
/// update; the inertia here is that of the returned assignments to the returned centroids. The
/// initial permutation is this library's seeded one, not faiss's `rand_perm`. The PCA-whitening
/// and L2 normalisation of the features before clustering (`preprocess_features`), faiss's
/// subsampling to 10⁷ points per centroid, and rebalanced sampling of the clusters during
/// training are the caller's.
public protocol DeepClusterOps {
    /// K-means from K distinct rows of x chosen by a seeded permutation.
    ///
    /// - Parameters:
    ///   - x: `(N, D)`.
    ///   - k: 1 ≤ K ≤ N clusters.
    ///   - iterations: ≥ 0 update steps (DeepCluster uses 20).
    ///   - seed: the permutation's seed.
    func kmeans(_ x: Tensor, k: Int, iterations: Int, seed: UInt64) throws -> KMeansResult

    /// K-means from given initial centroids `(K, D)`, 1 ≤ K ≤ N.
    func kmeans(_ x: Tensor, initialCentroids: Tensor, iterations: Int) throws -> KMeansResult

    /// Cross-entropy of `logits` `(N, K)` on `labels` (N values in 0..<K), mean over the batch,
    /// and its gradient w.r.t. the logits.
    func deepClusterLoss(logits: Tensor, labels: [Int]) throws -> CrossEntropyResult
}

extension DeepClusterOps {
    /// K-means with DeepCluster's 20 iterations and seed 0.
    public func kmeans(_ x: Tensor, k: Int) throws -> KMeansResult {
        try kmeans(x, k: k, iterations: KMeansReference.defaultIterations, seed: 0)
    }
}

/// What the k-means of ``DeepClusterOps`` returns.
public struct KMeansResult {
    /// `(K, D)`.
    public let centroids: Tensor
    /// The nearest centroid of each row, in 0..<K.
    public let assignments: [Int]
    /// Σ_n ‖x_n − c_{a_n}‖², a scalar (shape `[]`).
    public let inertia: Tensor
}

/// A freshly initialised linear classifier head.
public struct ClassifierHead {
    /// `(K, D)`, as `nn.Linear(D, K).weight`.
    public let weight: Tensor
    /// `(K)`.
    public let bias: Tensor
}

extension Backend {
    /// DeepCluster's re-initialised top layer: weight `(clusters, features)` ~ N(0, 0.01²), bias 0.
    ///
    /// Drawn on the host from `seed` (SplitMix64 and Box–Muller), so every backend gets the same values.
    public func deepClusterHead(features: Int, clusters: Int, seed: UInt64) throws -> ClassifierHead {
        guard features >= 1, clusters >= 1 else {
            throw SSLError.invalidArgument(op: "deepClusterHead", detail: "features and clusters must be ≥ 1, got \(features) and \(clusters)")
        }
        var rng = SplitMix64(seed: seed)
        let weight = (0..<(features * clusters)).map { _ in Float(0.01 * rng.gaussian()) }
        return ClassifierHead(weight: try upload(weight, shape: [clusters, features]), bias: try zeros([clusters]))
    }
}

/// K-means in Double on row-major `[Double]`: the reference backend's implementation, and the
/// shape rules both backends share.
public enum KMeansReference {
    public static let defaultIterations = 20
    /// faiss's `EPS` of `split_clusters`: "a bit above machine epsilon for float16".
    public static let splitPerturbation = 1.0 / 1024

    static func validate(x: [Int], k: Int, iterations: Int) throws -> (n: Int, d: Int) {
        let (n, d) = try Shapes.matrix(x, op: "kmeans", name: "x")
        guard k >= 1, k <= n else {
            throw SSLError.invalidArgument(op: "kmeans", detail: "k must be in 1…N = 1…\(n) for x \(shapeText(x)), got \(k)")
        }
        guard (0...IterativeSolvers.maxIterations).contains(iterations) else {
            throw SSLError.invalidArgument(op: "kmeans", detail: "iterations must be 0...\(IterativeSolvers.maxIterations), got \(iterations)")
        }
        return (n, d)
    }

    static func validate(x: [Int], initialCentroids c: [Int], iterations: Int) throws -> (n: Int, d: Int, k: Int) {
        let (k, dc) = try Shapes.matrix(c, op: "kmeans", name: "initialCentroids")
        let (n, d) = try validate(x: x, k: k, iterations: iterations)
        guard dc == d else {
            throw SSLError.shapeMismatch(op: "kmeans", detail: "initialCentroids \(shapeText(c)) have \(dc) features but x \(shapeText(x)) has \(d)")
        }
        return (n, d, k)
    }

    /// K distinct rows of 0..<N: the first K of a partial Fisher–Yates shuffle driven by SplitMix64.
    public static func initialRows(n: Int, k: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix64(seed: seed)
        var perm = Array(0..<n)
        for i in 0..<min(k, n) { perm.swapAt(i, i + Int(rng.next() % UInt64(n - i))) }
        return Array(perm.prefix(k))
    }

    /// The nearest centroid of each row (lowest index on ties) and its squared distance.
    public static func assign(_ x: [Double], centroids c: [Double], n: Int, d: Int, k: Int)
        -> (assignments: [Int], distances: [Double]) {
        var assignments = [Int](repeating: 0, count: n), distances = [Double](repeating: 0, count: n)
        for r in 0..<n {
            var best = Double.infinity
            for j in 0..<k {
                let dist = (0..<d).reduce(0.0) { let e = x[r * d + $1] - c[j * d + $1]; return $0 + e * e }
                if dist < best { best = dist; assignments[r] = j }
            }
            distances[r] = best
        }
        return (assignments, distances)
    }

    /// Means of the assigned rows (sums and counts, then divide); an empty cluster's centroid is 0
    /// and its count 0 until ``split(_:counts:d:k:)`` re-seeds it.
    static func update(_ x: [Double], assignments: [Int], n: Int, d: Int, k: Int) -> (centroids: [Double], counts: [Double]) {
        var sums = [Double](repeating: 0, count: k * d), counts = [Double](repeating: 0, count: k)
        for r in 0..<n {
            counts[assignments[r]] += 1
            for f in 0..<d { sums[assignments[r] * d + f] += x[r * d + f] }
        }
        for j in 0..<k where counts[j] > 0 {
            for f in 0..<d { sums[j * d + f] /= counts[j] }
        }
        return (sums, counts)
    }

    /// faiss `split_clusters` with the largest cluster as the one to split (see the type's doc).
    static func split(_ c: inout [Double], counts: inout [Double], d: Int, k: Int) {
        for i in 0..<k where counts[i] == 0 {
            var j = 0
            for candidate in 1..<k where counts[candidate] > counts[j] { j = candidate }
            for f in 0..<d {
                let e = f % 2 == 0 ? splitPerturbation : -splitPerturbation
                let base = c[j * d + f]
                c[i * d + f] = base * (1 + e)
                c[j * d + f] = base * (1 - e)
            }
            counts[i] = counts[j] / 2
            counts[j] -= counts[i]
        }
    }

    /// Lloyd's iterations from `initial` `(K, D)`; see the type's doc for the exact steps.
    public static func run(_ x: [Double], initial: [Double], n: Int, d: Int, k: Int, iterations: Int)
        -> (centroids: [Double], assignments: [Int], inertia: Double) {
        var c = initial
        for _ in 0..<iterations {
            let a = assign(x, centroids: c, n: n, d: d, k: k).assignments
            var (next, counts) = update(x, assignments: a, n: n, d: d, k: k)
            split(&next, counts: &counts, d: d, k: k)
            c = next
        }
        let (a, distances) = assign(x, centroids: c, n: n, d: d, k: k)
        return (c, a, distances.reduce(0, +))
    }
}

/// Cross-entropy on integer pseudo-labels, shared by DeepCluster and SeLA (both use
/// `nn.CrossEntropyLoss`): the one-hot targets of ``SoftCrossEntropy`` at scale 1.
public enum PseudoLabelCrossEntropy {
    static func validate(logits: [Int], labels: [Int], op: String) throws -> (n: Int, k: Int) {
        let (n, k) = try Shapes.matrix(logits, op: op, name: "logits")
        guard labels.count == n else {
            throw SSLError.shapeMismatch(op: op, detail: "logits \(shapeText(logits)) have \(n) rows but there are \(labels.count) labels")
        }
        if let (i, bad) = labels.enumerated().first(where: { $0.element < 0 || $0.element >= k }) {
            throw SSLError.invalidArgument(op: op, detail: "labels[\(i)] = \(bad) is outside 0..<\(k), the logits' columns")
        }
        return (n, k)
    }

    /// The one-hot matrix `(N, K)` of the labels.
    public static func oneHot(_ labels: [Int], k: Int) -> [Double] {
        var t = [Double](repeating: 0, count: labels.count * k)
        for (r, y) in labels.enumerated() { t[r * k + y] = 1 }
        return t
    }

    /// `L = −(1/N) Σ_n log_softmax(logits_n)[y_n]` and `dL/dlogits = (softmax − onehot) / N`.
    public static func evaluate(logits: [Double], labels: [Int], n: Int, k: Int) -> (loss: Double, dLogits: [Double]) {
        SoftCrossEntropy.evaluate(logits: logits, targets: oneHot(labels, k: k), rows: n, cols: k, scale: 1)
    }
}
