// Batch normalisation synchronised over the ranks of a data-parallel group (SyncBN), as
// torch.nn.SyncBatchNorm: the training statistics and the backward's two sums cover the group's
// whole batch, each combined by one CrossRankSum of 2C + 1 (forward) or 2C (backward) Doubles.
import SSLCore

/// The per-channel statistics of a batch split over ranks, from one element-wise sum.
///
/// Rank r contributes ``summands(count:mean:m2:)`` = `[M_r·mean_r (C), M2_r + M_r·mean_r² (C), M_r]`;
/// from the sums S1, S2 and M:
///
///     mean = S1/M,   σ² = (S2 − S1·mean)/M   (biased)
///
/// M2_r is taken about the very mean_r sent (`LayerOps.batchNormalizationMoments(_:)`), so this
/// is exactly Chan's pairwise merge of the ranks' (M_r, mean_r, M2_r), evaluated in Double: the
/// cancellation in S2 − S1·mean costs about (mean/σ)² · 2⁻⁵³ of σ², not float's 2⁻²⁴.
struct GroupMoments {
    /// M, the values per channel over the group.
    let count: Int
    /// `(C)` each: the global mean and biased variance.
    let mean: [Double], variance: [Double]

    /// One rank's contribution to the sum.
    static func summands(count: Int, mean: [Double], m2: [Double]) -> [Double] {
        let m = Double(count)
        return mean.map { m * $0 } + zip(m2, mean).map { $0 + m * $1 * $1 } + [m]
    }

    /// The statistics from the group's sum of ``summands(count:mean:m2:)``.
    /// - Throws: when the sums are not 2C + 1 values whose count is a whole number ≥ `localCount`
    ///   (a broken reduction).
    init(sums: [Double], channels c: Int, localCount: Int, op: String) throws {
        guard sums.count == 2 * c + 1 else {
            throw SSLError.invalidArgument(op: op, detail: "the cross-rank sum returned \(sums.count) values for \(2 * c + 1)")
        }
        guard let total = Int(exactly: sums[2 * c]), total >= localCount else {
            throw SSLError.invalidArgument(op: op, detail: "the cross-rank sum of the counts is \(sums[2 * c]), not a whole "
                                           + "number ≥ this rank's \(localCount)")
        }
        let m = Double(total)
        count = total
        mean = (0..<c).map { sums[$0] / m }
        // Clamped: for a constant channel the rounding of S2 − S1·mean can leave a tiny negative value.
        variance = (0..<c).map { ch in max(0, (sums[c + ch] - sums[ch] * (sums[ch] / m)) / m) }
    }
}

extension BatchNorm {
    /// The training forward over the group's batch: this rank's moments, one cross-rank sum, the
    /// global mean and rstd uploaded, x̂ and y from them; the running statistics move towards the
    /// global mean and the unbiased global variance σ² · M/(M − 1), as torch.nn.SyncBatchNorm
    /// (`batch_norm_gather_stats_with_counts`) updates them.
    /// - Returns: the forward result and the group's count M.
    func synchronizedForward(_ x: Tensor, over group: any CrossRankSum) throws -> (BatchNormalizationResult, count: Int) {
        let op = "\(Self.self) \(name) synchronised forward"
        let local = try backend.batchNormalizationMoments(x)
        var sums = GroupMoments.summands(count: local.count, mean: try backend.download(local.mean).map(Double.init),
                                         m2: try backend.download(local.m2).map(Double.init))
        try group.sum(&sums)
        let global = try GroupMoments(sums: sums, channels: features, localCount: local.count, op: op)
        guard global.count >= 2 else {
            throw SSLError.invalidArgument(op: op, detail: "training needs more than 1 value per channel over the group, "
                                           + "got \(global.count) (input \(shapeDescription(x.shape)) here)")
        }
        let mean = try backend.upload(global.mean.map(Float.init), shape: [features])
        let rstd = try backend.upload(global.variance.map { Float(1 / ($0 + Double(eps)).squareRoot()) }, shape: [features])
        let r = try backend.batchNormalization(x, gamma: gamma?.value, beta: beta?.value, mean: mean, rstd: rstd)
        let bessel = Double(global.count) / Double(global.count - 1)
        let unbiased = try backend.upload(global.variance.map { Float($0 * bessel) }, shape: [features])
        // running ← (1 − m)·running + m·value on the device, in float as the local kernel does it.
        try backend.axpby(mean, alpha: momentum, beta: 1 - momentum, into: running.mean)
        try backend.axpby(unbiased, alpha: momentum, beta: 1 - momentum, into: running.variance)
        return (r, global.count)
    }

    /// The training backward over the group's batch: this rank's Σ dy and Σ dy·x̂, one cross-rank
    /// sum, dx from the group's sums and count.
    ///
    /// dγ and dβ receive this rank's sums only: they are parameter gradients, which the trainer
    /// all-reduces with all the others afterwards (as DistributedDataParallel does after
    /// SyncBatchNorm); adding the group's sums here would count every rank's part R times.
    func synchronizedBackward(_ dY: Tensor, normalized: Tensor, rstd: Tensor, over group: any CrossRankSum,
                              count: Int) throws -> Tensor {
        let op = "\(Self.self) \(name) synchronised backward"
        let local = try backend.batchNormalizationBackwardSums(dY, normalized: normalized)
        if let gamma, let beta {
            try backend.axpby(local.dYNormalized, alpha: 1, beta: 1, into: gamma.gradient)
            try backend.axpby(local.dY, alpha: 1, beta: 1, into: beta.gradient)
        }
        var sums = try backend.download(local.dY).map(Double.init) + backend.download(local.dYNormalized).map(Double.init)
        try group.sum(&sums)
        guard sums.count == 2 * features else {
            throw SSLError.invalidArgument(op: op, detail: "the cross-rank sum returned \(sums.count) values "
                                           + "for \(2 * features)")
        }
        let global = BatchNormalizationSums(dY: try backend.upload(sums[..<features].map(Float.init), shape: [features]),
                                            dYNormalized: try backend.upload(sums[features...].map(Float.init),
                                                                             shape: [features]))
        return try backend.batchNormalizationBackward(dY, normalized: normalized, rstd: rstd, gamma: gamma?.value,
                                                      sums: global, count: count)
    }
}
