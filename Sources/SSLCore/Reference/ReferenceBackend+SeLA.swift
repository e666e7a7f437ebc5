// Reference SeLA: pseudo-labels through SeLAReference in Double; the loss is DeepCluster's.

extension ReferenceBackend {
    public func selaPseudoLabels(logits: Tensor, lambda: Float, maxIterations: Int) throws -> SeLALabels {
        let (n, k) = try SeLAReference.validate(logits: logits.shape, lambda: lambda, maxIterations: maxIterations)
        let r = SeLAReference.pseudoLabels(logits: try values(logits, op: "selaPseudoLabels").map(Double.init),
                                           n: n, k: k, lambda: Double(lambda), maxIterations: maxIterations)
        return SeLALabels(labels: r.labels, plan: make(r.plan.map(Float.init), [n, k]), iterations: r.iterations,
                          error: r.error)
    }

    public func selaLoss(logits: Tensor, labels: [Int]) throws -> CrossEntropyResult {
        try pseudoLabelCrossEntropy(logits, labels, op: "selaLoss")
    }
}
