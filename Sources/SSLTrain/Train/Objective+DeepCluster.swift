// DeepCluster: k-means of the whole training set's features gives every image a pseudo-label at
// the start of each epoch; a freshly drawn linear head is trained to predict it. Also the pieces
// SeLA shares: the checkpointed pseudo-labels, the training set's features, the one-view step.
import SSLCore

/// DeepCluster (facebookresearch/deepcluster `main.py`, `clustering.py`).
///
/// At the start of every epoch (`--reassign 1`):
/// 1. features of every training image from the current encoder in eval mode, on the unaugmented
///    images (`compute_features`, the plain `Resize, CenterCrop` loader);
/// 2. preprocessing: each row L2-normalised (`preprocess_features` without its PCA-whitening, see below);
/// 3. k-means: k clusters, 20 iterations (faiss `niter = 20`), seed `config.seed + epoch`;
///    the assignments are every image's pseudo-label;
/// 4. the head `Linear(D → k)` is drawn afresh: weight N(0, 0.01²), bias 0
///    (`top_layer.weight.data.normal_(0, 0.01)`, `bias.data.zero_()`), seed `config.seed + epoch`.
///
/// Each step: one augmented view (`RandomResizedCrop, RandomHorizontalFlip`: no colour
/// transforms) → encoder → head → cross-entropy on the batch's pseudo-labels → backward.
/// Paper defaults: k = 10000, SGD lr 0.05, momentum 0.9, weight decay 10⁻⁵ (``OptimizerRecipe``).
///
/// **Differences from the official code.**
/// - k defaults to `min(10000, N/10)` (at least 1) so that small data sets keep ~10 images per
///   cluster, as ImageNet's 1.28M images over 10000 clusters have far more; `config.prototypes` sets it.
/// - No PCA-whitening to 256 dimensions before the L2 normalisation: the encoders here output
///   ≤ 512 features, and a whitening would need a full eigendecomposition each epoch.
/// - The official trains the top layer with its own optimizer, created afresh every epoch (plain
///   SGD, no momentum). Here the head is one more parameter group of the trainer's optimizer (so
///   with its momentum), and its optimizer state (momentum buffers; LARS's `mu`; AdamW's moments)
///   is zeroed whenever the head is redrawn, which is what a fresh torch optimizer starts from.
///   AdamW's bias correction follows the trainer's global step count, not the head's.
/// - The official samples images uniformly over clusters (`UnifLabelSampler`); the trainer's
///   sampler is a plain per-epoch shuffle of all images.
/// - The trainer's learning-rate schedule (warm-up, cosine) applies instead of the constant lr.
final class DeepClusterObjective: Objective {
    let name = Method.deepcluster.rawValue
    let encoder: any FeatureLayer
    /// `head.weight` `(k, D)`, `head.bias` `(k)`: trained, checkpointed, redrawn every epoch.
    let head: Linear
    let augmentation: AugmentPipeline
    /// k.
    let clusters: Int
    let pseudoLabels: PseudoLabels
    private let seed: UInt64
    private let backend: any Backend

    init(_ s: ObjectiveSetup) throws {
        backend = s.backend
        seed = s.config.seed
        clusters = s.clusters(paper: 10_000)
        guard clusters <= s.datasetSize else {
            throw SSLError.invalidArgument(op: "train", detail: "DeepCluster's k = \(clusters) exceeds the \(s.datasetSize) training images")
        }
        encoder = try s.encoder()
        // Redrawn by `beginEpoch` before any step; these first values are never trained.
        head = try Linear(name: "head", inFeatures: encoder.outputDimension, outFeatures: clusters, seed: seed, on: backend)
        pseudoLabels = try PseudoLabels(count: s.datasetSize, on: backend)
        augmentation = AugmentPipeline(views: [s.adapted(.cropAndFlip(size: s.imageSize))], normalization: s.normalization, seed: seed)
    }

    var trainable: [any Layer] { [encoder, head] }
    var state: [NamedBuffer] { [pseudoLabels.checkpointEntry] }

    func beginEpoch(_ epoch: Int, trainer: Trainer) throws {
        let x = try backend.l2Normalize(try trainingFeatures(encoder, trainer), eps: 1e-12)
        let epochSeed = seed &+ UInt64(epoch)
        let result = try backend.kmeans(x, k: clusters, iterations: KMeansReference.defaultIterations, seed: epochSeed)
        try pseudoLabels.assign(result.assignments)
        try redrawHead(seed: epochSeed, optimizer: trainer.optimizer)
    }

    /// The official top layer's re-initialisation, and a fresh optimizer state for it.
    func redrawHead(seed: UInt64, optimizer: any Optimizer) throws {
        let fresh = try backend.deepClusterHead(features: head.inFeatures, clusters: clusters, seed: seed)
        try overwrite(head.weight.value, with: fresh.weight)
        if let bias = head.bias { try overwrite(bias.value, with: fresh.bias) }
        let names = head.parameters.map { $0.name + "." }
        for entry in try optimizer.state where names.contains(where: { entry.name.hasPrefix($0) }) {
            try backend.fill(entry.tensor, with: 0)
        }
    }

    private func overwrite(_ target: Tensor, with values: Tensor) throws {
        try backend.fill(target, with: 0)  // so that a non-finite old value cannot leak through 0 · y
        try backend.axpby(values, alpha: 1, beta: 1, into: target)
    }

    func step(_ views: [Tensor], _ context: StepContext) throws -> Tensor {
        let labels = try pseudoLabels.labels(of: context.indices)
        return try pseudoLabelStep(trainable, views[0]) { try backend.deepClusterLoss(logits: $0, labels: labels) }
    }
}

// MARK: - Shared with SeLA

/// The pseudo-label of every training image, as the losses take them (host integers) and as a
/// checkpoint keeps them: a float tensor `(N)` under `method/pseudo_labels`, exact for labels
/// below 2²⁴. A resume mid-epoch restores the tensor (no `beginEpoch` runs there), so the host
/// copy is dropped whenever the tensor is handed out for a checkpoint and read back on next use.
final class PseudoLabels {
    let tensor: Tensor
    private var host: [Int]?
    private let backend: any Backend

    /// All zeros until the first ``assign(_:)``.
    init(count: Int, on backend: any Backend) throws {
        self.backend = backend
        tensor = try backend.zeros([count])
    }

    /// Sets every image's label, `labels[i]` for global index i.
    func assign(_ labels: [Int]) throws {
        guard labels.count == tensor.count else {
            throw SSLError.shapeMismatch(op: "train", detail: "\(labels.count) pseudo-labels for \(tensor.count) training images")
        }
        try backend.upload(labels.map(Float.init), into: tensor)
        host = labels
    }

    /// Every image's label.
    var all: [Int] {
        get throws {
            if let host { return host }
            let values = try backend.download(tensor).map { Int($0) }
            host = values
            return values
        }
    }

    /// The labels of the global `indices`, in order.
    func labels(of indices: [Int]) throws -> [Int] {
        let all = try self.all
        return indices.map { all[$0] }
    }

    /// The checkpoint entry. The caller may write into the tensor (a resume restores it in
    /// place), so the host copy is dropped and re-read from the tensor on next use.
    var checkpointEntry: NamedBuffer {
        host = nil
        return NamedBuffer(name: "pseudo_labels", tensor: tensor)
    }
}

/// The encoder's features `(N, D)` of every training image, in eval mode on the unaugmented
/// normalised images (``Features/extract(_:dataset:indices:normalization:batch:on:)``), on the device.
/// Over several ranks each extracts a contiguous share and every rank receives all of them, so
/// the clustering that follows sees the same features on every rank.
func trainingFeatures(_ encoder: any FeatureLayer, _ trainer: Trainer) throws -> Tensor {
    let train = trainer.data.train, group = trainer.group
    let share = BatchSampler.slice(Array(0..<train.count), rank: group.rank, worldSize: group.size)
    let features = try Features.extract(encoder, dataset: train, indices: share,
                                        normalization: trainer.data.normalization, on: trainer.backend)
    let all = try group.gatherUneven(features.values, purpose: "features")
    return try trainer.backend.upload(all, shape: [train.count, features.columns])
}

/// One view through `layers` (encoder, head), a cross-entropy on the batch's pseudo-labels, and
/// its backward; returns the loss.
func pseudoLabelStep(_ layers: [any Layer], _ view: Tensor,
                     loss: (Tensor) throws -> CrossEntropyResult) throws -> Tensor {
    let (logits, caches) = try layers.forward(view)
    let r = try loss(logits)
    try layers.backwardParameters(caches, r.dLogits)
    return r.loss
}

extension ObjectiveSetup {
    /// `config.prototypes`, else the paper's cluster count scaled for small data: at most a tenth
    /// of the training images (at least 1).
    func clusters(paper: Int) -> Int { config.prototypes ?? max(1, min(paper, datasetSize / 10)) }
}

extension ViewPolicy {
    /// DeepCluster's training view (`clustering.py` `cluster_assign`): `RandomResizedCrop` with
    /// torchvision's default scale (0.08, 1) and `RandomHorizontalFlip`, nothing else.
    static func cropAndFlip(size: Int) -> ViewPolicy {
        ViewPolicy(size: size, jitterProbability: 0, grayscaleProbability: 0, blurProbability: 0)
    }
}
