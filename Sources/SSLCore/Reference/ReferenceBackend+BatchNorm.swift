// Reference batch normalisation and the Barlow Twins cross-correlation matrix, both on
// LayerReference.batchNorm (affine-free, training mode).

extension ReferenceBackend {
    public func standardizeColumns(_ x: Tensor, eps: Float) throws -> BatchNormResult {
        let (n, d) = try Shapes.matrix(x.shape, op: "batchNorm", name: "x")
        try Shapes.validEps(eps, op: "batchNorm")
        let r = normalizedColumns(try values(x, op: "batchNorm"), n: n, d: d, eps: eps)
        return BatchNormResult(y: make(r.normalized.map(Float.init), [n, d]), mean: make(r.mean.map(Float.init), [d]),
                               rstd: make(r.rstd.map(Float.init), [d]))
    }

    public func crossCorrelation(_ z1: Tensor, _ z2: Tensor, eps: Float) throws -> Tensor {
        let (n, d) = try Shapes.crossCorrelation(z1.shape, z2.shape)
        try HostMemory.require([d, d], what: "the D×D cross-correlation (D \(d))")
        try Shapes.validEps(eps, op: "crossCorrelation")
        // The normalised columns stay in Double for the product that follows.
        let a = normalizedColumns(try values(z1, op: "crossCorrelation"), n: n, d: d, eps: eps).normalized
        let b = normalizedColumns(try values(z2, op: "crossCorrelation"), n: n, d: d, eps: eps).normalized
        var c = [Float](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in 0..<d {
                var dot = 0.0
                for r in 0..<n { dot += a[r * d + i] * b[r * d + j] }
                c[i * d + j] = Float(dot / Double(n))
            }
        }
        return make(c, [d, d])
    }

    /// BatchNorm1d(affine=False) in training on the columns of `x` `(N, D)`.
    private func normalizedColumns(_ x: [Float], n: Int, d: Int, eps: Float) -> LayerReference.BatchNormOutput {
        LayerReference.batchNorm(x.map(Double.init), n: n, c: d, inner: 1, gamma: nil, beta: nil, running: nil,
                                 training: true, momentum: 0, eps: Double(eps))
    }
}
