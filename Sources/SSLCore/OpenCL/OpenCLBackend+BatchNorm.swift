// Batch normalisation (Kernels/batchnorm.cl, through OpenCLBackend+LayersNormalization.swift) and
// the cross-correlation matrix built on it:
// C = BN(z1)ᵀ BN(z2) / N as one CLBlast GEMM with transposed A and alpha = 1/N.

extension OpenCLBackend {
    /// The affine-free training case of ``batchNormalization(_:gamma:beta:running:training:momentum:eps:)``.
    public func standardizeColumns(_ x: Tensor, eps: Float) throws -> BatchNormResult {
        _ = try Shapes.matrix(x.shape, op: "batchNorm", name: "x")
        try Shapes.validEps(eps, op: "batchNorm")
        let r = try batchNormalization(x, gamma: nil, beta: nil, running: nil, training: true,
                                       momentum: BatchNormDefaults.momentum, eps: eps)
        return BatchNormResult(y: r.y, mean: r.mean, rstd: r.rstd)
    }

    public func crossCorrelation(_ z1: Tensor, _ z2: Tensor, eps: Float) throws -> Tensor {
        let (n, d) = try Shapes.crossCorrelation(z1.shape, z2.shape)
        try Shapes.validEps(eps, op: "crossCorrelation")
        let a = try standardizeColumns(z1, eps: eps).y, b = try standardizeColumns(z2, eps: eps).y
        let c = try empty([d, d])
        try gemm(a, b, transposeA: true, transposeB: false, alpha: 1 / Float(n), beta: 0, into: c)
        return c
    }
}
