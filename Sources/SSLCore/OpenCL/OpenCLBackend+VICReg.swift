// VICReg on the device (Kernels/redundancy.cl): per-feature statistics in vicreg_columns, the
// covariances K = x̄ᵀ x̄ / (N − 1) as CLBlast GEMMs, their off-diagonals in vicreg_offdiag, the
// invariance and variance gradients element-wise, the covariance gradient as a GEMM accumulated
// on top (beta = 1), and the sums in vicreg_loss. No host round trip.

extension OpenCLBackend {
    public func vicreg(_ z1: Tensor, _ z2: Tensor, simCoeff: Float, stdCoeff: Float,
                       covCoeff: Float) throws -> VICRegResult {
        let op = "vicreg"
        let (n, d) = try VICRegReference.validate(z1.shape, z2.shape, simCoeff: simCoeff, stdCoeff: stdCoeff,
                                                  covCoeff: covCoeff)
        let nArg = try int32(n, op), dArg = try int32(d, op)
        let xc1 = try empty([n, d]), xc2 = try empty([n, d])
        let partials = try empty([3, d]), stdGrad = try empty([2, d])
        try launchElements("vicreg_columns", in: .redundancy, count: d, arguments: [
            try arg(z1, op), try arg(z2, op), try arg(xc1, op), try arg(xc2, op), try arg(partials, op),
            try arg(stdGrad, op), nArg, dArg, .float(Float(VICRegReference.eps)),
        ])

        let invNm1 = Float(1 / Double(n - 1))
        let k1 = try empty([d, d]), k2 = try empty([d, d])
        try gemm(xc1, xc1, transposeA: true, transposeB: false, alpha: invNm1, beta: 0, into: k1)
        try gemm(xc2, xc2, transposeA: true, transposeB: false, alpha: invNm1, beta: 0, into: k2)
        try launchRows("vicreg_offdiag", in: .redundancy, rows: d, length: d, arguments: [
            try arg(k1, op), try arg(k2, op), try arg(partials, op), dArg,
        ])

        let loss = try empty([]), parts = try empty([3])
        try launchRows("vicreg_loss", in: .redundancy, rows: 1, length: d, arguments: [
            try arg(partials, op), try arg(parts, op), try arg(loss, op), nArg, dArg,
            .float(simCoeff), .float(stdCoeff), .float(covCoeff),
        ])

        let dZ1 = try empty([n, d]), dZ2 = try empty([n, d])
        try launchElements("vicreg_gradient", in: .redundancy, count: n * d, arguments: [
            try arg(z1, op), try arg(z2, op), try arg(xc1, op), try arg(xc2, op), try arg(stdGrad, op),
            try arg(dZ1, op), try arg(dZ2, op), try int32(n * d, op), dArg,
            .float(Float(2 * Double(simCoeff) / Double(n * d))), .float(stdCoeff),
        ])
        // ∂c/∂z = 4 x̄ · offdiag(K) / (D (N − 1)), weighted by covCoeff.
        let covScale = Float(4 * Double(covCoeff) / (Double(d) * Double(n - 1)))
        try gemm(xc1, k1, transposeA: false, transposeB: false, alpha: covScale, beta: 1, into: dZ1)
        try gemm(xc2, k2, transposeA: false, transposeB: false, alpha: covScale, beta: 1, into: dZ2)
        return VICRegResult(loss: loss, parts: parts, dZ1: dZ1, dZ2: dZ2)
    }
}
