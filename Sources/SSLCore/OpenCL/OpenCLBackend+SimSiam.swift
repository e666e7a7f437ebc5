// SimSiam on the device: normalized_pair_rows (Kernels/distillation.cl) once per direction,
// (p1, z2) into row-loss entries [0, N) and (p2, z1) into [N, 2N); the loss −½ mean cos − ½ mean cos
// is then the mean of those 2N entries (sum_rows, reduce.cl).

extension OpenCLBackend {
    public func simSiam(p1: Tensor, p2: Tensor, z1: Tensor, z2: Tensor) throws -> SimSiamResult {
        let (n, _) = try SimSiamReference.validate(p1: p1.shape, p2: p2.shape, z1: z1.shape, z2: z2.shape)
        let rowLoss = try empty([1, 2 * n])
        let eps = Float(SimSiamReference.eps), scale = Float(1 / Double(2 * n))  // dL/dp̂1 = −ẑ2 / 2N
        let dP1 = try normalizedPairRows(p1, z2, mode: .simSiam, eps: eps, gradScale: scale, rowLoss: rowLoss, lossOffset: 0)
        let dP2 = try normalizedPairRows(p2, z1, mode: .simSiam, eps: eps, gradScale: scale, rowLoss: rowLoss, lossOffset: n)
        return SimSiamResult(loss: try mean(rowLoss, axis: 1).reshaped([]), dP1: dP1, dP2: dP2)
    }
}
