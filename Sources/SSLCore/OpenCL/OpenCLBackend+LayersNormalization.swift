// Batch normalisation with affine parameters and running statistics, forward and backward, on
// the device (Kernels/batchnorm.cl): one work-group per channel, or on CPU devices for (N, F) one
// work-item per feature. The core batchNorm op and the
// Barlow Twins backward are the affine-free, statistics-free cases of these kernels. Then the
// four steps of a batch norm synchronised over ranks: per-channel moments and backward sums (one
// work-group per channel), forward and backward from the group's statistics (one work-item per element).

extension OpenCLBackend {
    public func batchNormalization(_ x: Tensor, gamma: Tensor?, beta: Tensor?, running: RunningStatistics?,
                                   training: Bool, momentum: Float, eps: Float) throws -> BatchNormalizationResult {
        let op = "batchNormalization"
        let v = try Shapes.batchNormalization(
            x.shape, gamma: gamma?.shape, beta: beta?.shape, running: running.map { ($0.mean.shape, $0.variance.shape) },
            training: training, momentum: momentum, eps: eps)
        _ = try int32(x.count, op)
        let normalized = try empty(x.shape), mean = try empty([v.c]), rstd = try empty([v.c])
        let y = gamma == nil ? normalized : try empty(x.shape)
        let flags = (gamma == nil ? 0 : 1) | (training ? 2 : 0) | (running == nil ? 0 : 4)
        // Buffers a flag switches off are never read or written; `mean` stands in for them.
        let buffers = [
            try arg(x, op), try arg(y, op), try arg(normalized, op), try arg(mean, op), try arg(rstd, op),
            try arg(gamma ?? mean, op), try arg(beta ?? mean, op),
            try arg(running?.mean ?? mean, op), try arg(running?.variance ?? mean, op),
        ]
        if reducesColumnsPerWorkItem(inner: v.inner) {
            try launchColumns("batchnorm_forward_columns", in: .batchnorm, columns: v.c, arguments: buffers + [
                try int32(v.n, op), try int32(v.c, op), .float(eps), .float(momentum), .int(Int32(flags)),
            ])
        } else {
            try launchRows("batchnorm_forward", in: .batchnorm, rows: v.c, length: v.n * v.inner, arguments: buffers + [
                try int32(v.n, op), try int32(v.c, op), try int32(v.inner, op), .float(eps), .float(momentum), .int(Int32(flags)),
            ])
        }
        return BatchNormalizationResult(y: y, normalized: normalized, mean: mean, rstd: rstd)
    }

    public func batchNormalizationBackward(_ dY: Tensor, normalized: Tensor, rstd: Tensor, gamma: Tensor?,
                                           training: Bool, dGamma: Tensor?, dBeta: Tensor?) throws -> Tensor {
        let op = "batchNormalizationBackward"
        let v = try Shapes.batchNormalizationBackward(dY.shape, normalized: normalized.shape, rstd: rstd.shape,
                                                      gamma: gamma?.shape, dGamma: dGamma?.shape, dBeta: dBeta?.shape)
        _ = try int32(dY.count, op)
        let dX = try empty(dY.shape)
        let flags = (gamma == nil ? 0 : 1) | (training ? 2 : 0) | (dGamma == nil ? 0 : 8)
        let buffers = [
            try arg(dY, op), try arg(normalized, op), try arg(rstd, op), try arg(gamma ?? rstd, op), try arg(dX, op),
            try arg(dGamma ?? rstd, op), try arg(dBeta ?? rstd, op),
        ]
        if reducesColumnsPerWorkItem(inner: v.inner) {
            try launchColumns("batchnorm_backward_columns", in: .batchnorm, columns: v.c, arguments: buffers + [
                try int32(v.n, op), try int32(v.c, op), .int(Int32(flags)),
            ])
        } else {
            try launchRows("batchnorm_backward", in: .batchnorm, rows: v.c, length: v.n * v.inner, arguments: buffers + [
                try int32(v.n, op), try int32(v.c, op), try int32(v.inner, op), .int(Int32(flags)),
            ])
        }
        return dX
    }

    // MARK: - Synchronised batch normalisation

    public func batchNormalizationMoments(_ x: Tensor) throws -> BatchNormalizationMoments {
        let op = "batchNormalizationMoments"
        let v = try Shapes.channels(x.shape, op: op)
        _ = try int32(x.count, op)
        let mean = try empty([v.c]), m2 = try empty([v.c])
        try launchRows("batchnorm_moments", in: .batchnorm, rows: v.c, length: v.n * v.inner, arguments: [
            try arg(x, op), try arg(mean, op), try arg(m2, op), try int32(v.n, op), try int32(v.c, op), try int32(v.inner, op),
        ])
        return BatchNormalizationMoments(count: v.n * v.inner, mean: mean, m2: m2)
    }

    public func batchNormalization(_ x: Tensor, gamma: Tensor?, beta: Tensor?, mean: Tensor,
                                   rstd: Tensor) throws -> BatchNormalizationResult {
        let op = "batchNormalization(mean:rstd:)"
        let v = try Shapes.batchNormalization(x.shape, gamma: gamma?.shape, beta: beta?.shape, mean: mean.shape,
                                              rstd: rstd.shape)
        let normalized = try empty(x.shape)
        let y = gamma == nil ? normalized : try empty(x.shape)
        // Without affine γ and β are never read; `mean` stands in for them.
        try launchElements("batchnorm_forward_given", in: .batchnorm, count: x.count, arguments: [
            try arg(x, op), try arg(y, op), try arg(normalized, op), try arg(mean, op), try arg(rstd, op),
            try arg(gamma ?? mean, op), try arg(beta ?? mean, op), try int32(x.count, op), try int32(v.c, op),
            try int32(v.inner, op), .int(gamma == nil ? 0 : 1),
        ])
        return BatchNormalizationResult(y: y, normalized: normalized, mean: mean, rstd: rstd)
    }

    public func batchNormalizationBackwardSums(_ dY: Tensor, normalized: Tensor) throws -> BatchNormalizationSums {
        let op = "batchNormalizationBackwardSums"
        let v = try Shapes.batchNormalizationBackwardSums(dY.shape, normalized: normalized.shape)
        _ = try int32(dY.count, op)
        let sumDY = try empty([v.c]), sumDYNormalized = try empty([v.c])
        try launchRows("batchnorm_backward_sums", in: .batchnorm, rows: v.c, length: v.n * v.inner, arguments: [
            try arg(dY, op), try arg(normalized, op), try arg(sumDY, op), try arg(sumDYNormalized, op),
            try int32(v.n, op), try int32(v.c, op), try int32(v.inner, op),
        ])
        return BatchNormalizationSums(dY: sumDY, dYNormalized: sumDYNormalized)
    }

    public func batchNormalizationBackward(_ dY: Tensor, normalized: Tensor, rstd: Tensor, gamma: Tensor?,
                                           sums: BatchNormalizationSums, count: Int) throws -> Tensor {
        let op = "batchNormalizationBackward(sums:count:)"
        let v = try Shapes.batchNormalizationBackward(dY.shape, normalized: normalized.shape, rstd: rstd.shape,
                                                      gamma: gamma?.shape, sums: (sums.dY.shape, sums.dYNormalized.shape),
                                                      count: count)
        let dX = try empty(dY.shape)
        try launchElements("batchnorm_backward_given", in: .batchnorm, count: dY.count, arguments: [
            try arg(dY, op), try arg(normalized, op), try arg(rstd, op), try arg(gamma ?? rstd, op),
            try arg(sums.dY, op), try arg(sums.dYNormalized, op), try arg(dX, op), try int32(dY.count, op),
            try int32(v.c, op), try int32(v.inner, op), .float(Float(count)), .int(gamma == nil ? 0 : 1),
        ])
        return dX
    }
}
