// Barlow Twins on the device (Kernels/redundancy.cl), in one of two forms (RedundancyForm.swift):
//
// D×D:  batch norm, C = Y1ᵀ Y2 / N (CLBlast), dC and the loss shares in barlow_dc,
//       dY1 = Y2 dCᵀ / N and dY2 = Y1 dC / N (CLBlast), the batch-norm backward per column.
// Gram: batch norm, G1 = Y1 Y1ᵀ and G2 = Y2 Y2ᵀ (CLBlast, N×N), C's diagonal and the diagonal
//       share of dY in barlow_gram_diagonal, ⟨G1, G2⟩ by rows in barlow_gram_rows, the loss in
//       barlow_gram_loss, dY1 += (2λ/N²) G2 Y1 and dY2 += (2λ/N²) G1 Y2 (CLBlast, beta = 1), the
//       batch-norm backward. No D×D buffer unless the caller reads `c`.
// No host round trip in either.

extension OpenCLBackend {
    public func barlowTwins(_ z1: Tensor, _ z2: Tensor, lambda: Float, eps: Float,
                            form: RedundancyForm) throws -> BarlowTwinsResult {
        let (n, d) = try BarlowTwinsReference.validate(z1.shape, z2.shape, lambda: lambda, eps: eps)
        let bn1 = try standardizeColumns(z1, eps: eps), bn2 = try standardizeColumns(z2, eps: eps)
        let (loss, dY1, dY2, c): (Tensor, Tensor, Tensor, LazyTensor)
        let resolved = form.resolved(n: n, d: d, gramBelowRatio: paths?.gramBelowRatio ?? 1)
        switch resolved {
        case .gram:
            (loss, dY1, dY2) = try barlowTwinsGram(bn1.y, bn2.y, n: n, d: d, lambda: lambda)
            c = LazyTensor { [self] in try correlation(bn1.y, bn2.y, n: n, d: d) }
        case .feature, .automatic:
            let matrix = try correlation(bn1.y, bn2.y, n: n, d: d)
            (loss, dY1, dY2) = try barlowTwinsFeature(bn1.y, bn2.y, c: matrix, n: n, d: d, lambda: lambda)
            c = LazyTensor(matrix)
        }
        return BarlowTwinsResult(loss: loss, dZ1: try batchNormBackward(bn1, dY1, n: n, d: d),
                                 dZ2: try batchNormBackward(bn2, dY2, n: n, d: d), form: resolved, c: c)
    }

    /// C = Y1ᵀ Y2 / N, `(D, D)`.
    private func correlation(_ y1: Tensor, _ y2: Tensor, n: Int, d: Int) throws -> Tensor {
        let c = try empty([d, d])
        try gemm(y1, y2, transposeA: true, transposeB: false, alpha: Float(1 / Double(n)), beta: 0, into: c)
        return c
    }

    /// The loss, dY1 and dY2 through C `(D, D)`.
    private func barlowTwinsFeature(_ y1: Tensor, _ y2: Tensor, c: Tensor, n: Int, d: Int,
                                    lambda: Float) throws -> (Tensor, Tensor, Tensor) {
        let op = "barlowTwins"
        let dC = try empty([d, d]), rowLoss = try empty([1, d])
        try launchRows("barlow_dc", in: .redundancy, rows: d, length: d, arguments: [
            try arg(c, op), try arg(dC, op), try arg(rowLoss, op), try int32(d, op), .float(lambda),
        ])
        let invN = Float(1 / Double(n))
        let dY1 = try empty([n, d]), dY2 = try empty([n, d])
        try gemm(y2, dC, transposeA: false, transposeB: true, alpha: invN, beta: 0, into: dY1)
        try gemm(y1, dC, transposeA: false, transposeB: false, alpha: invN, beta: 0, into: dY2)
        return (try sum(rowLoss, axis: 1).reshaped([]), dY1, dY2)
    }

    /// The loss, dY1 and dY2 through the Gram matrices `(N, N)`
    /// (``BarlowTwinsReference/gramForward(z1:z2:n:d:lambda:eps:)`` has the derivation).
    private func barlowTwinsGram(_ y1: Tensor, _ y2: Tensor, n: Int, d: Int,
                                 lambda: Float) throws -> (Tensor, Tensor, Tensor) {
        let op = "barlowTwins"
        let nArg = try int32(n, op), dArg = try int32(d, op)
        let g1 = try empty([n, n]), g2 = try empty([n, n])
        try gemm(y1, y1, transposeA: false, transposeB: true, alpha: 1, beta: 0, into: g1)
        try gemm(y2, y2, transposeA: false, transposeB: true, alpha: 1, beta: 0, into: g2)

        let dY1 = try empty([n, d]), dY2 = try empty([n, d]), columnLoss = try empty([d])
        try launchElements("barlow_gram_diagonal", in: .redundancy, count: d, arguments: [
            try arg(y1, op), try arg(y2, op), try arg(dY1, op), try arg(dY2, op), try arg(columnLoss, op),
            nArg, dArg, .float(lambda),
        ])
        let rowShare = try empty([n])
        try launchRows("barlow_gram_rows", in: .redundancy, rows: n, length: n, arguments: [
            try arg(g1, op), try arg(g2, op), try arg(rowShare, op), nArg,
        ])
        let loss = try empty([])
        try launchRows("barlow_gram_loss", in: .redundancy, rows: 1, length: max(n, d), arguments: [
            try arg(columnLoss, op), try arg(rowShare, op), try arg(loss, op), nArg, dArg,
            .float(Float(Double(lambda) / Double(n * n))),
        ])
        // (2λ/N²) G2 Y1 and (2λ/N²) G1 Y2 onto the diagonal shares.
        let offDiagonalScale = Float(2 * Double(lambda) / Double(n * n))
        try gemm(g2, y1, transposeA: false, transposeB: false, alpha: offDiagonalScale, beta: 1, into: dY1)
        try gemm(g1, y2, transposeA: false, transposeB: false, alpha: offDiagonalScale, beta: 1, into: dY2)
        return (loss, dY1, dY2)
    }

    /// dx = rstd · (dy − mean(dy) − y · mean(dy ⊙ y)) per column, for the output of ``standardizeColumns(_:eps:)``:
    /// the affine-free training case of the layers' batch-norm backward. `dY` and the result are
    /// `(N, D)`. Internal so that the tests can feed it any dY.
    func batchNormBackward(_ bn: BatchNormResult, _ dY: Tensor, n: Int, d: Int) throws -> Tensor {
        precondition(dY.shape == [n, d], "batchNormBackward: dY must be (N, D)")
        return try batchNormalizationBackward(dY, normalized: bn.y, rstd: bn.rstd, gamma: nil, training: true,
                                              dGamma: nil, dBeta: nil)
    }
}
