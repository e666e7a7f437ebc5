// NT-Xent on the device (Kernels/contrastive.cl, ntxent_rows): normalise the stacked views, one
// GEMM for the (2N, 2N) similarities, one row kernel for the masked softmax cross-entropy and its
// gradient dS, then dẑ = (dS + dSᵀ)·ẑ as two GEMMs and the normalisation's backward.

extension OpenCLBackend {
    public func ntXent(_ z1: Tensor, _ z2: Tensor, temperature: Float) throws -> NTXentResult {
        let (n, d) = try NTXentReference.validate(z1.shape, z2.shape, temperature: temperature)
        let op = "ntXent", rows = 2 * n
        let z = try empty([rows, d])
        try copyRows(z1, rows: 0..<n, into: z, at: 0, op: op)
        try copyRows(z2, rows: 0..<n, into: z, at: n, op: op)
        let eps = ContrastiveRules.normalizeEps
        let zHat = try l2Normalize(z, eps: eps)
        let sim = try matmul(zHat, zHat, transposeB: true)  // cosine similarities, (2N, 2N)
        let rowLoss = try empty([1, rows]), dSim = try empty([rows, rows])
        try launchRows("ntxent_rows", in: .contrastive, rows: rows, length: rows, arguments: [
            try arg(sim, op), try arg(rowLoss, op), try arg(dSim, op), try int32(rows, op), try int32(n, op),
            .float(Float(1 / Double(temperature))), .float(Float(1 / Double(rows))),
        ])
        // S = ẑẑᵀ: each row is a query (dS·ẑ) and a key (dSᵀ·ẑ).
        let dZHat = try matmul(dSim, zHat)
        try gemm(dSim, zHat, transposeA: true, transposeB: false, alpha: 1, beta: 1, into: dZHat)
        let dZ = try l2NormalizeBackward(z, dZHat, eps: eps)
        let dZ1 = try empty([n, d]), dZ2 = try empty([n, d])
        try copyRows(dZ, rows: 0..<n, into: dZ1, at: 0, op: op)
        try copyRows(dZ, rows: n..<rows, into: dZ2, at: 0, op: op)
        return NTXentResult(loss: try mean(rowLoss, axis: 1).reshaped([]), dZ1: dZ1, dZ2: dZ2)
    }
}
