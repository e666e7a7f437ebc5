// MoCo on the device (Kernels/contrastive.cl, moco_rows): normalise q and k, one GEMM for the
// negatives q̂·queueᵀ, one row kernel for the positive, the cross-entropy and its gradients, then
// dq̂ += dneg·queue by GEMM and the normalisation's backward. The enqueue is one or two copies.

extension OpenCLBackend {
    public func moco(q: Tensor, k: Tensor, queue: Tensor, temperature: Float) throws -> MoCoResult {
        let (n, d, kCount) = try MoCoReference.validate(q: q.shape, k: k.shape, queue: queue.shape, temperature: temperature)
        let op = "moco", eps = ContrastiveRules.normalizeEps
        let qHat = try l2Normalize(q, eps: eps), kHat = try l2Normalize(k, eps: eps)
        let lNeg = try matmul(qHat, queue, transposeB: true)  // (N, K)
        let rowLoss = try empty([1, n]), dNeg = try empty([n, kCount]), dQHat = try empty([n, d])
        try launchRows("moco_rows", in: .contrastive, rows: n, length: max(d, kCount), arguments: [
            try arg(qHat, op), try arg(kHat, op), try arg(lNeg, op), try arg(rowLoss, op), try arg(dNeg, op),
            try arg(dQHat, op), try int32(d, op), try int32(kCount, op), .float(Float(1 / Double(temperature))),
            .float(Float(1 / Double(n))),
        ])
        try gemm(dNeg, queue, transposeA: false, transposeB: false, alpha: 1, beta: 1, into: dQHat)
        return MoCoResult(loss: try mean(rowLoss, axis: 1).reshaped([]),
                          dQ: try l2NormalizeBackward(q, dQHat, eps: eps))
    }

    public func mocoEnqueue(keys: Tensor, into queue: Tensor, at pointer: Int) throws -> Int {
        let (n, _, kCount) = try MoCoReference.validateEnqueue(keys: keys.shape, queue: queue.shape, pointer: pointer)
        let kHat = try l2Normalize(keys, eps: ContrastiveRules.normalizeEps)
        let first = min(n, kCount - pointer)  // rows before the wrap
        try copyRows(kHat, rows: 0..<first, into: queue, at: pointer, op: "mocoEnqueue")
        try copyRows(kHat, rows: first..<n, into: queue, at: 0, op: "mocoEnqueue")
        return (pointer + n) % kCount
    }
}
