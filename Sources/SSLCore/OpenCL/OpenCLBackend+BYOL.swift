// BYOL on the device: one fused pass per row (Kernels/distillation.cl, normalized_pair_rows)
// writes each row's ‖p̂ − ẑ‖² and dL/dp; the mean over rows is sum_rows (reduce.cl).

extension OpenCLBackend {
    public func byol(p: Tensor, z: Tensor) throws -> BYOLResult {
        let (n, _) = try BYOLReference.validate(p: p.shape, z: z.shape)
        let rowLoss = try empty([1, n])
        let dP = try normalizedPairRows(p, z, mode: .byol, eps: Float(BYOLReference.eps),
                                        gradScale: Float(1 / Double(n)), rowLoss: rowLoss, lossOffset: 0)
        return BYOLResult(loss: try mean(rowLoss, axis: 1).reshaped([]), dP: dP)
    }

    /// The row loss of BYOL or SimSiam, selected by `mode` (the kernel's PAIR_… constants).
    enum PairLoss: Int32 {
        case byol = 0, simSiam = 1
    }

    /// Launches `normalized_pair_rows` over the N rows of `p` and `z`: writes row n's loss term to
    /// `rowLoss[lossOffset + n]` and returns dL/dp `(N, D)` for dL/dp̂ scaled by `gradScale`.
    func normalizedPairRows(_ p: Tensor, _ z: Tensor, mode: PairLoss, eps: Float, gradScale: Float,
                            rowLoss: Tensor, lossOffset: Int) throws -> Tensor {
        let op = mode == .byol ? "byol" : "simSiam"
        let (n, d) = (p.shape[0], p.shape[1])
        precondition(z.shape == p.shape && rowLoss.count >= lossOffset + n, "validated by the caller")
        let dP = try empty(p.shape)
        try launchRows("normalized_pair_rows", in: .distillation, rows: n, length: d, arguments: [
            try arg(p, op), try arg(z, op), try arg(rowLoss, op), try arg(dP, op), try int32(d, op),
            .float(eps), .int(mode.rawValue), .float(gradScale), try int32(lossOffset, op),
        ])
        return dP
    }
}
