// Batch normalisation (Kernels/batchnorm.cl) and the cross-correlation matrix built on it:
// C = BN(z1)ᵀ BN(z2) / N as one CLBlast GEMM with transposed A and alpha = 1/N.

extension OpenCLBackend {
    public func batchNorm(_ x: Tensor, eps: Float) throws -> BatchNormResult {
        let (n, d) = try Shapes.matrix(x.shape, op: "batchNorm", name: "x")
        try Shapes.validEps(eps, op: "batchNorm")
        let y = try empty([n, d]), mean = try empty([d]), rstd = try empty([d])
        try launchElements("batchnorm_columns", in: .batchnorm, count: d, arguments: [
            try arg(x, "batchNorm"), try arg(y, "batchNorm"), try arg(mean, "batchNorm"), try arg(rstd, "batchNorm"),
            try int32(n, "batchNorm"), try int32(d, "batchNorm"), .float(eps),
        ])
        return BatchNormResult(y: y, mean: mean, rstd: rstd)
    }

    public func crossCorrelation(_ z1: Tensor, _ z2: Tensor, eps: Float) throws -> Tensor {
        let (n, d) = try Shapes.crossCorrelation(z1.shape, z2.shape)
        try Shapes.validEps(eps, op: "crossCorrelation")
        let a = try batchNorm(z1, eps: eps).y, b = try batchNorm(z2, eps: eps).y
        let c = try empty([d, d])
        try gemm(a, b, transposeA: true, transposeB: false, alpha: 1 / Float(n), beta: 0, into: c)
        return c
    }
}
