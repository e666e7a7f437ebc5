// Barlow Twins on the device (Kernels/redundancy.cl): batch norm and C = Y1ᵀ Y2 / N from the
// library's ops, dC and the loss shares in barlow_dc, dY1 = Y2 dCᵀ / N and dY2 = Y1 dC / N as
// CLBlast GEMMs, then the batch-norm backward per column. No host round trip.

extension OpenCLBackend {
    public func barlowTwins(_ z1: Tensor, _ z2: Tensor, lambda: Float, eps: Float) throws -> BarlowTwinsResult {
        let op = "barlowTwins"
        let (n, d) = try BarlowTwinsReference.validate(z1.shape, z2.shape, lambda: lambda, eps: eps)
        let bn1 = try batchNorm(z1, eps: eps), bn2 = try batchNorm(z2, eps: eps)
        let invN = Float(1 / Double(n))
        let c = try empty([d, d])
        try gemm(bn1.y, bn2.y, transposeA: true, transposeB: false, alpha: invN, beta: 0, into: c)

        let dC = try empty([d, d]), rowLoss = try empty([1, d])
        try launchRows("barlow_dc", in: .redundancy, rows: d, length: d, arguments: [
            try arg(c, op), try arg(dC, op), try arg(rowLoss, op), try int32(d, op), .float(lambda),
        ])
        let loss = try sum(rowLoss, axis: 1).reshaped([])

        let dY1 = try empty([n, d]), dY2 = try empty([n, d])
        try gemm(bn2.y, dC, transposeA: false, transposeB: true, alpha: invN, beta: 0, into: dY1)
        try gemm(bn1.y, dC, transposeA: false, transposeB: false, alpha: invN, beta: 0, into: dY2)
        return BarlowTwinsResult(loss: loss, c: c, dZ1: try batchNormBackward(bn1, dY1, n: n, d: d),
                                 dZ2: try batchNormBackward(bn2, dY2, n: n, d: d))
    }

    /// dx = rstd · (dy − mean(dy) − y · mean(dy ⊙ y)) per column, for the output of ``batchNorm(_:eps:)``:
    /// the affine-free training case of the layers' batch-norm backward. `dY` and the result are
    /// `(N, D)`. Internal so that the tests can feed it any dY.
    func batchNormBackward(_ bn: BatchNormResult, _ dY: Tensor, n: Int, d: Int) throws -> Tensor {
        precondition(dY.shape == [n, d], "batchNormBackward: dY must be (N, D)")
        return try batchNormalizationBackward(dY, normalized: bn.y, rstd: bn.rstd, gamma: nil, training: true,
                                              dGamma: nil, dBeta: nil)
    }
}
