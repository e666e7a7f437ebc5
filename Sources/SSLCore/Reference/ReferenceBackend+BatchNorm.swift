// Reference batch normalisation and the Barlow Twins cross-correlation matrix.

extension ReferenceBackend {
    public func batchNorm(_ x: Tensor, eps: Float) throws -> BatchNormResult {
        let (n, d) = try Shapes.matrix(x.shape, op: "batchNorm", name: "x")
        try Shapes.validEps(eps, op: "batchNorm")
        let stats = columnStatistics(try values(x, op: "batchNorm"), n: n, d: d, eps: eps)
        var y = [Float](repeating: 0, count: n * d)
        let xv = try values(x, op: "batchNorm")
        for i in 0..<n {
            for j in 0..<d { y[i * d + j] = Float((Double(xv[i * d + j]) - stats.mean[j]) * stats.rstd[j]) }
        }
        return BatchNormResult(y: make(y, [n, d]), mean: make(stats.mean.map(Float.init), [d]),
                               rstd: make(stats.rstd.map(Float.init), [d]))
    }

    public func crossCorrelation(_ z1: Tensor, _ z2: Tensor, eps: Float) throws -> Tensor {
        let (n, d) = try Shapes.crossCorrelation(z1.shape, z2.shape)
        try Shapes.validEps(eps, op: "crossCorrelation")
        let a = normalizedColumns(try values(z1, op: "crossCorrelation"), n: n, d: d, eps: eps)
        let b = normalizedColumns(try values(z2, op: "crossCorrelation"), n: n, d: d, eps: eps)
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

    /// Per-column mean and 1/sqrt(biased variance + eps), two-pass.
    private func columnStatistics(_ x: [Float], n: Int, d: Int, eps: Float) -> (mean: [Double], rstd: [Double]) {
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += Double(x[i * d + j]) } }
        for j in 0..<d { mean[j] /= Double(n) }
        var variance = [Double](repeating: 0, count: d)
        for i in 0..<n {
            for j in 0..<d {
                let c = Double(x[i * d + j]) - mean[j]
                variance[j] += c * c
            }
        }
        return (mean, variance.map { 1 / ($0 / Double(n) + Double(eps)).squareRoot() })
    }

    /// The batch-normalised columns, kept in Double for the product that follows.
    private func normalizedColumns(_ x: [Float], n: Int, d: Int, eps: Float) -> [Double] {
        let stats = columnStatistics(x, n: n, d: d, eps: eps)
        var y = [Double](repeating: 0, count: n * d)
        for i in 0..<n { for j in 0..<d { y[i * d + j] = (Double(x[i * d + j]) - stats.mean[j]) * stats.rstd[j] } }
        return y
    }
}
