// The views of a batch: per-view parameters drawn on the host from (seed, epoch, global index,
// view), then one augment op per crop size on the backend.

/// Per-channel `Normalize` statistics.
public struct Normalization: Equatable, Sendable {
    /// One mean and one standard deviation per channel: `x ↦ (x − mean[c]) / std[c]`.
    public var mean: [Float], std: [Float]

    /// Statistics for `mean.count` channels (checked against the images when applied).
    public init(mean: [Float], std: [Float]) {
        self.mean = mean
        self.std = std
    }

    /// Fashion-MNIST's training-set statistics as commonly used: mean 0.2860, std 0.3530.
    public static let fashionMNIST = Normalization(mean: [0.2860], std: [0.3530])
    /// MNIST's: mean 0.1307, std 0.3081 (the PyTorch MNIST example).
    public static let mnist = Normalization(mean: [0.1307], std: [0.3081])
    /// CIFAR-10's training-set per-channel mean and std.
    public static let cifar10 = Normalization(mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616])
    /// No normalisation: views stay in [0, 1].
    public static func identity(channels: Int) -> Normalization {
        Normalization(mean: Array(repeating: 0, count: channels), std: Array(repeating: 1, count: channels))
    }
}

/// Every view's parameters for one batch, grouped by crop size: what the host computes (in a
/// prefetch thread, say) before the device applies it.
public struct AugmentPlan: Equatable, Sendable {
    /// One group per distinct output size, in the order the sizes first appear in the pipeline.
    public struct Group: Equatable, Sendable {
        /// The output side in pixels.
        public let size: Int
        /// The pipeline's view numbers in this group.
        public let viewNumbers: [Int]
        /// `viewNumbers.count × B` views, view-major: view `viewNumbers[k]` of sample b is row k·B + b.
        public let views: [AugmentView]
    }

    /// The groups, one per output tensor.
    public let groups: [Group]
    /// The batch size B.
    public let batchSize: Int
}

/// A multi-view augmentation: a list of ``ViewPolicy`` values (two for SimCLR/BYOL, 2 global +
/// V local for SwAV/DINO), a normalisation and a seed.
///
/// Every random draw of view k of the sample with global index i in epoch e comes from
/// `CounterRandom(seed:, epoch: e, index: i, stream: k)`, so a sample's views depend neither on
/// the other samples of its batch nor on how the batch is split over ranks.
///
/// ```swift
/// let pipeline = AugmentPipeline.twoViews(size: 28, normalization: .fashionMNIST, seed: 0)
/// let crops = try pipeline.apply(images, indices: batch.indices, epoch: 3, on: backend)
/// // crops[0]: (2·B, 1, 28, 28), rows 0..<B view 0, rows B..<2B view 1
/// ```
public struct AugmentPipeline: Equatable, Sendable {
    /// One policy per view; view k of every sample draws from stream k.
    public var views: [ViewPolicy]
    /// Applied to every view after the augmentations.
    public var normalization: Normalization
    /// The run's seed, the first part of every view's key.
    public var seed: UInt64

    /// A pipeline of `views` (several may share a crop size).
    public init(views: [ViewPolicy], normalization: Normalization, seed: UInt64) {
        self.views = views
        self.normalization = normalization
        self.seed = seed
    }

    /// BYOL's two asymmetric views (``ViewPolicy/byol(size:view:)``).
    public static func twoViews(size: Int, normalization: Normalization, seed: UInt64) -> AugmentPipeline {
        AugmentPipeline(views: [.byol(size: size, view: 0), .byol(size: size, view: 1)],
                        normalization: normalization, seed: seed)
    }

    /// SwAV/DINO multi-crop: 2 global crops of `globalSize` and `localCount` local crops of `localSize`.
    public static func multiCrop(globalSize: Int = 28, localSize: Int = 12, localCount: Int = 6,
                                 normalization: Normalization, seed: UInt64) -> AugmentPipeline {
        AugmentPipeline(views: [.multiCropGlobal(size: globalSize, view: 0), .multiCropGlobal(size: globalSize, view: 1)]
                            + Array(repeating: .multiCropLocal(size: localSize), count: localCount),
                        normalization: normalization, seed: seed)
    }

    /// The distinct output sizes, in order of first appearance: one output tensor each.
    public var cropSizes: [Int] {
        views.map(\.size).reduce(into: [Int]()) { if !$0.contains($1) { $0.append($1) } }
    }

    /// The parameters of every view of the samples with global `indices` (their batch order).
    public func plan(epoch: Int, indices: [Int], imageHeight: Int, imageWidth: Int) throws -> AugmentPlan {
        guard !views.isEmpty else { throw SSLError.invalidArgument(op: "AugmentPipeline", detail: "no views") }
        guard imageHeight > 0, imageWidth > 0 else {
            throw SSLError.invalidArgument(op: "AugmentPipeline", detail: "image size \(imageHeight)×\(imageWidth) is empty")
        }
        try views.forEach { try $0.validate() }
        let groups = cropSizes.map { size -> AugmentPlan.Group in
            let numbers = views.indices.filter { views[$0].size == size }
            let drawn = numbers.flatMap { k in
                indices.enumerated().map { b, index in
                    views[k].sample(source: b, imageHeight: imageHeight, imageWidth: imageWidth,
                                    random: CounterRandom(seed: seed, epoch: epoch, index: index, stream: k))
                }
            }
            return AugmentPlan.Group(size: size, viewNumbers: numbers, views: drawn)
        }
        return AugmentPlan(groups: groups, batchSize: indices.count)
    }

    /// The views of `plan` computed from `images` `(B, C, H, W)` on `backend`: one tensor
    /// `(K·B, C, size, size)` per group of the plan.
    public func apply(_ plan: AugmentPlan, to images: Tensor, on backend: any Backend) throws -> [Tensor] {
        guard images.rank == 4, images.shape[0] == plan.batchSize else {
            throw SSLError.shapeMismatch(op: "AugmentPipeline", detail: "images \(images.shape) do not hold the plan's batch of \(plan.batchSize)")
        }
        return try plan.groups.map { group in
            try backend.augment(images, views: group.views,
                                output: AugmentOutput(height: group.size, width: group.size,
                                                      mean: normalization.mean, std: normalization.std))
        }
    }

    /// The views of `plan` as one tensor `(B, C, size, size)` per view, in view order: what a
    /// method's step takes. ``apply(_:to:on:)`` computes them; each view is a slice of its group.
    public func views(_ plan: AugmentPlan, of images: Tensor, on backend: any Backend) throws -> [Tensor] {
        guard plan.groups.flatMap(\.viewNumbers).sorted() == Array(views.indices) else {
            throw SSLError.invalidArgument(op: "AugmentPipeline", detail: "the plan holds views "
                                           + "\(plan.groups.map(\.viewNumbers)), not the pipeline's \(views.count)")
        }
        let groups = try apply(plan, to: images, on: backend), batch = plan.batchSize
        var views = [Tensor?](repeating: nil, count: self.views.count)
        for (group, tensor) in zip(plan.groups, groups) {
            for (position, k) in group.viewNumbers.enumerated() {
                views[k] = group.viewNumbers.count == 1 ? tensor : try backend.rows(tensor, (position * batch)..<((position + 1) * batch))
            }
        }
        return views.map { $0! }
    }

    /// ``plan(epoch:indices:imageHeight:imageWidth:)`` then ``views(_:of:on:)``: view k of every
    /// sample of `images` `(B, C, H, W)` as `result[k]`.
    public func views(_ images: Tensor, indices: [Int], epoch: Int, on backend: any Backend) throws -> [Tensor] {
        try views(try plan(for: images, indices: indices, epoch: epoch), of: images, on: backend)
    }

    /// ``plan(epoch:indices:imageHeight:imageWidth:)`` then ``apply(_:to:on:)``.
    public func apply(_ images: Tensor, indices: [Int], epoch: Int, on backend: any Backend) throws -> [Tensor] {
        try apply(try plan(for: images, indices: indices, epoch: epoch), to: images, on: backend)
    }

    /// The plan for a batch of `images` `(B, C, H, W)`.
    private func plan(for images: Tensor, indices: [Int], epoch: Int) throws -> AugmentPlan {
        guard images.rank == 4 else {
            throw SSLError.shapeMismatch(op: "AugmentPipeline", detail: "images must be (B, C, H, W), got \(images.shape)")
        }
        return try plan(epoch: epoch, indices: indices, imageHeight: images.shape[2], imageWidth: images.shape[3])
    }
}
