// Batch normalisation layers, as torch.nn.BatchNorm1d and BatchNorm2d: affine γ and β, running
// statistics with momentum, training and evaluation modes.
import SSLCore

/// Batch normalisation per channel (the shared part of ``BatchNorm1d`` and ``BatchNorm2d``).
///
/// Training (the default): batch statistics over N (and H·W), biased variance for the
/// normalisation; `running_mean` and `running_var` (initially 0 and 1) move by `momentum` towards
/// the batch mean and the *unbiased* batch variance at every forward, as in PyTorch. Evaluation
/// (``setTraining(_:)`` false): the running statistics normalise and stay unchanged. The forward's
/// mode is kept in its cache, so each backward matches its own forward.
///
/// With ``synchronization`` set, training uses the statistics of the whole batch of a
/// data-parallel group (torch.nn.SyncBatchNorm); see BatchNorm+Synchronization.swift.
public class BatchNorm: Layer {
    public let name: String
    public let features: Int
    public let momentum: Float, eps: Float
    /// `name.weight` (γ, initially 1) and `name.bias` (β, initially 0), or nil for `affine=False`.
    public let gamma: Parameter?, beta: Parameter?
    /// `name.running_mean` and `name.running_var`, `(C)`.
    public let running: RunningStatistics
    /// Batch statistics (true) or running statistics (false).
    public private(set) var training = true
    /// The data-parallel group whose whole batch the training statistics and the backward's sums
    /// cover (SyncBN); nil (the default) for this process's batch alone. Evaluation ignores it.
    /// Every rank of the group must run the same forwards and backwards in the same order.
    public var synchronization: (any CrossRankSum)?
    let backend: any Backend
    private let ranks: [Int], layout: String

    init(name: String, features: Int, affine: Bool, momentum: Float, eps: Float, ranks: [Int], layout: String,
         on backend: any Backend) throws {
        guard features > 0 else {
            throw SSLError.invalidArgument(op: "\(Self.self) \(name)", detail: "features must be positive, got \(features)")
        }
        guard momentum >= 0, momentum <= 1, eps >= 0, eps.isFinite else {
            throw SSLError.invalidArgument(op: "\(Self.self) \(name)",
                                           detail: "momentum must be in [0, 1] and eps ≥ 0, got \(momentum) and \(eps)")
        }
        (self.name, self.features, self.momentum, self.eps) = (name, features, momentum, eps)
        (self.ranks, self.layout) = (ranks, layout)
        self.backend = backend
        let ones = [Float](repeating: 1, count: features), zeros = [Float](repeating: 0, count: features)
        gamma = affine ? try Parameter(name: qualified(name, "weight"), values: ones, shape: [features], isBiasOrNorm: true,
                                       on: backend) : nil
        beta = affine ? try Parameter(name: qualified(name, "bias"), values: zeros, shape: [features], isBiasOrNorm: true,
                                      on: backend) : nil
        running = RunningStatistics(mean: try backend.upload(zeros, shape: [features]),
                                    variance: try backend.upload(ones, shape: [features]))
    }

    public var parameters: [Parameter] { [gamma, beta].compactMap { $0 } }

    public var buffers: [NamedBuffer] {
        [NamedBuffer(name: qualified(name, "running_mean"), tensor: running.mean),
         NamedBuffer(name: qualified(name, "running_var"), tensor: running.variance)]
    }

    public func setTraining(_ training: Bool) { self.training = training }

    struct Cache: LayerCache {
        let normalized: Tensor, rstd: Tensor, training: Bool
        /// The group of a synchronised forward and its count M per channel; nil for a local one.
        let synchronized: (group: any CrossRankSum, count: Int)?
    }

    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) {
        guard ranks.contains(x.rank), x.shape[1] == features else {
            throw SSLError.shapeMismatch(op: "\(Self.self) \(name)", detail: "x must be \(layout) with \(features) "
                                         + "channels, got \(shapeDescription(x.shape))")
        }
        if training, let group = synchronization {
            let (r, count) = try synchronizedForward(x, over: group)
            return (r.y, Cache(normalized: r.normalized, rstd: r.rstd, training: true, synchronized: (group, count)))
        }
        let r = try backend.batchNormalization(x, gamma: gamma?.value, beta: beta?.value, running: running,
                                               training: training, momentum: momentum, eps: eps)
        return (r.y, Cache(normalized: r.normalized, rstd: r.rstd, training: training, synchronized: nil))
    }

    public func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor {
        let c = try layerCache(cache, as: Cache.self, layer: name)
        if let s = c.synchronized {
            return try synchronizedBackward(dY, normalized: c.normalized, rstd: c.rstd, over: s.group, count: s.count)
        }
        return try backend.batchNormalizationBackward(dY, normalized: c.normalized, rstd: c.rstd, gamma: gamma?.value,
                                                      training: c.training, dGamma: gamma?.gradient, dBeta: beta?.gradient)
    }
}

/// `torch.nn.BatchNorm1d(features, eps=1e-5, momentum=0.1, affine=True)` on `(N, F)` or `(N, F, L)`.
public final class BatchNorm1d: BatchNorm {
    /// - Parameters: momentum, eps: PyTorch's defaults (``BatchNormDefaults``); affine: true by
    ///   default (false for Barlow Twins' and SimSiam's parameter-free last batch norms).
    public init(name: String, features: Int, affine: Bool = true, momentum: Float = BatchNormDefaults.momentum,
                eps: Float = BatchNormDefaults.eps, on backend: any Backend) throws {
        try super.init(name: name, features: features, affine: affine, momentum: momentum, eps: eps, ranks: [2, 3],
                       layout: "(N, F) or (N, F, L)", on: backend)
    }
}

/// `torch.nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1, affine=True)` on `(N, C, H, W)`.
public final class BatchNorm2d: BatchNorm {
    public init(name: String, channels: Int, affine: Bool = true, momentum: Float = BatchNormDefaults.momentum,
                eps: Float = BatchNormDefaults.eps, on backend: any Backend) throws {
        try super.init(name: name, features: channels, affine: affine, momentum: momentum, eps: eps, ranks: [4],
                       layout: "(N, C, H, W)", on: backend)
    }
}
