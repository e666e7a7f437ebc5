// Reference DeepCluster: k-means and the pseudo-label cross-entropy through KMeansReference and
// PseudoLabelCrossEntropy, in Double.

extension ReferenceBackend {
    public func kmeans(_ x: Tensor, k: Int, iterations: Int, seed: UInt64) throws -> KMeansResult {
        let (n, d) = try KMeansReference.validate(x: x.shape, k: k, iterations: iterations)
        let v = try values(x, op: "kmeans")
        let rows = KMeansReference.initialRows(n: n, k: k, seed: seed)
        let initial = rows.flatMap { v[($0 * d)..<(($0 + 1) * d)] }
        return try kmeans(x, initialCentroids: make(initial, [k, d]), iterations: iterations)
    }

    public func kmeans(_ x: Tensor, initialCentroids: Tensor, iterations: Int) throws -> KMeansResult {
        let (n, d, k) = try KMeansReference.validate(x: x.shape, initialCentroids: initialCentroids.shape,
                                                     iterations: iterations)
        let r = KMeansReference.run(try values(x, op: "kmeans").map(Double.init),
                                    initial: try values(initialCentroids, op: "kmeans").map(Double.init),
                                    n: n, d: d, k: k, iterations: iterations)
        return KMeansResult(centroids: make(r.centroids.map(Float.init), [k, d]), assignments: r.assignments,
                            inertia: make([Float(r.inertia)], []))
    }

    public func deepClusterLoss(logits: Tensor, labels: [Int]) throws -> CrossEntropyResult {
        try pseudoLabelCrossEntropy(logits, labels, op: "deepClusterLoss")
    }

    /// DeepCluster's and SeLA's cross-entropy on integer labels.
    func pseudoLabelCrossEntropy(_ logits: Tensor, _ labels: [Int], op: String) throws -> CrossEntropyResult {
        let (n, k) = try PseudoLabelCrossEntropy.validate(logits: logits.shape, labels: labels, op: op)
        let r = PseudoLabelCrossEntropy.evaluate(logits: try values(logits, op: op).map(Double.init), labels: labels, n: n, k: k)
        return CrossEntropyResult(loss: make([Float(r.loss)], []), dLogits: make(r.dLogits.map(Float.init), [n, k]))
    }
}
