// VICReg on the device (Kernels/redundancy.cl): per-feature statistics in vicreg_columns, the
// invariance and variance gradients element-wise in vicreg_gradient, the sums in vicreg_loss,
// and the covariance term in one of two forms (RedundancyForm.swift):
//
// D×D:  K = x̄ᵀ x̄ / (N − 1) (CLBlast), the off-diagonals and their squares in vicreg_offdiag,
//       dZ += 4 cov x̄ · offdiag(K) / (D (N − 1)) (CLBlast, beta = 1).
// Gram: G = x̄ x̄ᵀ (CLBlast, N×N), ‖G‖² by rows in vicreg_gram_rows, and
//       dZ += 4 cov (G x̄ / (N − 1) − x̄ diag(K)) / (D (N − 1)): the diagonal part in
//       vicreg_gradient, G x̄ (CLBlast, beta = 1). No D×D buffer.
// No host round trip in either.

extension OpenCLBackend {
    public func vicreg(_ z1: Tensor, _ z2: Tensor, simCoeff: Float, stdCoeff: Float, covCoeff: Float,
                       form: RedundancyForm) throws -> VICRegResult {
        let op = "vicreg"
        let (n, d) = try VICRegReference.validate(z1.shape, z2.shape, simCoeff: simCoeff, stdCoeff: stdCoeff,
                                                  covCoeff: covCoeff)
        let resolved = form.resolved(n: n, d: d, gramBelowRatio: paths?.gramBelowRatio ?? 1), gram = resolved == .gram
        let nArg = try int32(n, op), dArg = try int32(d, op)
        let xc1 = try empty([n, d]), xc2 = try empty([n, d])
        let partials = try empty([3, d]), stdGrad = try empty([2, d]), variance = try empty([2, d])
        try launchElements("vicreg_columns", in: .redundancy, count: d, arguments: [
            try arg(z1, op), try arg(z2, op), try arg(xc1, op), try arg(xc2, op), try arg(partials, op),
            try arg(stdGrad, op), try arg(variance, op), nArg, dArg, .float(Float(VICRegReference.eps)),
        ])

        // The covariance matrices the gradient GEMMs multiply x̄ by: offdiag(K) (D×D) or G (N×N).
        let invNm1 = Float(1 / Double(n - 1))
        let m1: Tensor, m2: Tensor, gramRows: Tensor
        if gram {
            m1 = try empty([n, n]); m2 = try empty([n, n]); gramRows = try empty([n])
            try gemm(xc1, xc1, transposeA: false, transposeB: true, alpha: 1, beta: 0, into: m1)
            try gemm(xc2, xc2, transposeA: false, transposeB: true, alpha: 1, beta: 0, into: m2)
            try launchRows("vicreg_gram_rows", in: .redundancy, rows: n, length: n, arguments: [
                try arg(m1, op), try arg(m2, op), try arg(gramRows, op), nArg,
            ])
        } else {
            m1 = try empty([d, d]); m2 = try empty([d, d]); gramRows = partials  // not read: gram_count 0
            try gemm(xc1, xc1, transposeA: true, transposeB: false, alpha: invNm1, beta: 0, into: m1)
            try gemm(xc2, xc2, transposeA: true, transposeB: false, alpha: invNm1, beta: 0, into: m2)
            try launchRows("vicreg_offdiag", in: .redundancy, rows: d, length: d, arguments: [
                try arg(m1, op), try arg(m2, op), try arg(partials, op), dArg,
            ])
        }

        let loss = try empty([]), parts = try empty([3])
        try launchRows("vicreg_loss", in: .redundancy, rows: 1, length: gram ? max(n, d) : d, arguments: [
            try arg(partials, op), try arg(gramRows, op), try arg(parts, op), try arg(loss, op), nArg, dArg,
            try int32(gram ? n : 0, op), .float(invNm1 * invNm1), .float(simCoeff), .float(stdCoeff), .float(covCoeff),
        ])

        // ∂c/∂z = 4 x̄ · offdiag(K) / (D (N − 1)), weighted by covCoeff; in the Gram form
        // x̄ · offdiag(K) = G x̄ / (N − 1) − x̄ diag(K).
        let covScale = Float(4 * Double(covCoeff) / (Double(d) * Double(n - 1)))
        let dZ1 = try empty([n, d]), dZ2 = try empty([n, d])
        try launchElements("vicreg_gradient", in: .redundancy, count: n * d, arguments: [
            try arg(z1, op), try arg(z2, op), try arg(xc1, op), try arg(xc2, op), try arg(stdGrad, op),
            try arg(variance, op), try arg(dZ1, op), try arg(dZ2, op), try int32(n * d, op), dArg,
            .float(Float(2 * Double(simCoeff) / Double(n * d))), .float(stdCoeff), .float(gram ? covScale : 0),
        ])
        if gram {
            try gemm(m1, xc1, transposeA: false, transposeB: false, alpha: covScale * invNm1, beta: 1, into: dZ1)
            try gemm(m2, xc2, transposeA: false, transposeB: false, alpha: covScale * invNm1, beta: 1, into: dZ2)
        } else {
            try gemm(xc1, m1, transposeA: false, transposeB: false, alpha: covScale, beta: 1, into: dZ1)
            try gemm(xc2, m2, transposeA: false, transposeB: false, alpha: covScale, beta: 1, into: dZ2)
        }
        return VICRegResult(loss: loss, parts: parts, dZ1: dZ1, dZ2: dZ2, form: resolved)
    }
}
