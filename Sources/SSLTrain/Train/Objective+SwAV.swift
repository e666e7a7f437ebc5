// SwAV: every multi-crop view through the encoder, the projection head and L2 normalisation;
// the Sinkhorn codes of the two global crops are predicted from every other crop's scores
// against the prototypes. The multi-crop views are shared with DINO.
import SSLCore

extension ObjectiveSetup {
    /// SwAV's multi-crop (facebookresearch/swav `main_swav.py`: `--size_crops 224 96`,
    /// `--nmb_crops 2 6`): 2 global crops of the image size and `config.localCrops` local crops of
    /// 96/224 of it (12 px for 28 px images).
    ///
    /// The MLP encoder takes a single input size, so with `config.encoder == "mlp"` the local crops
    /// keep their smaller area (scale 0.05–0.14) and their own augmentations but are resized to the
    /// global size.
    func multiCrop() throws -> AugmentPipeline {
        guard config.localCrops >= 0 else {
            throw SSLError.invalidArgument(op: "train", detail: "localCrops must be non-negative, got \(config.localCrops)")
        }
        let local = config.encoder == "mlp" ? imageSize : max(1, Int((Double(imageSize) * 96 / 224).rounded()))
        return adapted(AugmentPipeline.multiCrop(globalSize: imageSize, localSize: local, localCount: config.localCrops,
                                                 normalization: normalization, seed: config.seed))
    }
}

/// SwAV (facebookresearch/swav `main_swav.py`, `src/resnet50.py`), with the paper's defaults:
///
/// - encoder → `projection_head` `Linear(d, 2048), BN, ReLU, Linear(2048, 128)` (`--hidden_mlp
///   2048`, `--feat_dim 128`; `config.projector` gives `[out]` or `[hidden…, out]`) → z = z / ‖z‖;
/// - prototypes `Linear(128, K, bias=False)`, K = `config.prototypes ?? 3000`, whose rows are
///   L2-normalised in place at the start of every step, as the official loop does under `no_grad`;
/// - multi-crop: 2 global + `config.localCrops` local crops (``ObjectiveSetup/multiCrop()``);
///   codes of the two global crops (`crops_for_assign 0 1`) by Sinkhorn-Knopp [ε 0.05, 3
///   iterations], predicted by every other crop with temperature T = `config.temperature ?? 0.1`;
/// - the prototypes get no update during the first `freeze_prototypes_niters` = 313 iterations,
///   scaled down for short runs as the warm-ups are: min(313, steps per epoch, a tenth of the run);
/// - LARS, base LR 0.3 per 256 (4.8 for 4096), weight decay 1e-6 (``OptimizerRecipe``).
///
/// - the crops of one resolution go through the encoder as one batch and all crops through the
///   projection head as one (``JointForward``, the official `MultiCropWrapper`'s batching);
/// - the queue of past embeddings (`--queue_length` = `config.swavQueueLength`, 0 by default as
///   the official code; its small-batch recipe uses 3840 from `--epoch_queue_starts 15` =
///   `config.swavQueueStartEpoch`): one queue per code crop, holding the global batch's
///   normalised embeddings; once its last row is filled, Sinkhorn runs on the queue's scores
///   above the batch's and keeps the batch's codes; the queue is filled after it is read, as the
///   official loop does. Over several ranks each holds the whole global queue (the official
///   code gives each rank a share of it; Sinkhorn sums over all rows either way).
final class SwAVObjective: Objective {
    let name = Method.swav.rawValue
    let encoder: any FeatureLayer
    let projector: MLPHead
    let prototypes: Linear
    let augmentation: AugmentPipeline
    /// One queue `(Q, D)` per code crop when `config.swavQueueLength > 0`; checkpointed.
    let queues: [Tensor]
    private let queueStartEpoch: Int
    private let temperature: Float
    private let backend: any Backend
    /// Sinkhorn's ε and iterations (`--epsilon 0.05`, `--sinkhorn_iterations 3`).
    static let epsilon: Float = 0.05, sinkhornIterations = 3
    /// `--freeze_prototypes_niters 313`.
    static let freezePrototypesIterations = 313
    /// `F.normalize`'s eps.
    static let eps: Float = 1e-12

    init(_ s: ObjectiveSetup) throws {
        backend = s.backend
        encoder = try s.encoder()
        let widths = s.config.projector ?? [2048, 128]
        let hidden = widths.count >= 2 ? Array(widths.dropLast()) : [2048]
        projector = try MLPHead(name: "projector", dims: [encoder.outputDimension] + hidden + [widths.last!],
                                batchNormHidden: true, batchNormLast: false, biasLast: true, seed: s.config.seed, on: s.backend)
        prototypes = try Linear.swavPrototypes(features: widths.last!, prototypes: s.config.prototypes ?? 3000,
                                               seed: s.config.seed, on: s.backend)
        augmentation = try s.multiCrop()
        temperature = Float(s.temperature(0.1))
        let length = s.config.swavQueueLength
        guard length == 0 || length >= s.config.batchSize else {
            throw SSLError.invalidArgument(op: "train", detail: "swavQueueLength \(length) must hold at least one global batch "
                                           + "of \(s.config.batchSize) (the official code uses a multiple of it)")
        }
        try HostMemory.require([2, length, widths.last!], what: "SwAV's queues of \(length) embeddings of \(widths.last!)")
        queues = length == 0 ? [] : try (0..<2).map { _ in try s.backend.zeros([length, widths.last!]) }
        queueStartEpoch = s.config.swavQueueStartEpoch
    }

    var state: [NamedBuffer] { queues.enumerated().map { NamedBuffer(name: "swav.queue\($0.offset)", tensor: $0.element) } }

    var trainable: [any Layer] { [encoder, projector, prototypes] }

    /// The iterations at the start of the run during which the prototypes are frozen.
    static func freezeSteps(_ context: StepContext) -> Int {
        min(freezePrototypesIterations, context.stepsPerEpoch, context.totalSteps / 10)
    }

    /// The crops as SwAV's `MultiCropWrapper` runs them (``JointForward``): those of one
    /// resolution as one batch through the encoder, all of them as one batch through the projector.
    func step(_ views: [Tensor], _ context: StepContext) throws -> Tensor {
        try backend.l2NormalizeInPlace(prototypes.weight.value, eps: Self.eps)
        let joint = JointForward(backbone: [encoder], head: [projector])
        let (projections, cache) = try joint.forward(views, on: backend)
        // Sinkhorn's equipartition is over the global batch: every rank's codes.
        let crops = try projections.map { try context.group.gatherRows(try backend.l2Normalize($0, eps: Self.eps), on: backend) }
        let active = !queues.isEmpty && context.epoch >= queueStartEpoch
        // `use_the_queue`: from the step its last row holds an embedding, as the official loop checks.
        let useQueues = try active && backend.download(try backend.rows(queues[0], (queues[0].shape[0] - 1)..<queues[0].shape[0]))
            .contains { $0 != 0 }
        let r = try backend.swav(crops: crops, prototypes: prototypes.weight.value, epsilon: Self.epsilon,
                                 iterations: Self.sinkhornIterations, temperature: temperature, queues: useQueues ? queues : nil)
        if active {
            for (queue, crop) in zip(queues, crops) { try backend.swavQueuePush(crop, into: queue) }
        }
        try backend.axpby(r.dPrototypes, alpha: 1, beta: 1, into: prototypes.weight.gradient)
        let dProjections = try views.indices.map { v in
            try backend.l2NormalizeBackward(projections[v], try context.group.gatherBackward(r.dZ[v], on: backend), eps: Self.eps)
        }
        try joint.backward(cache, dProjections, on: backend)
        return r.loss
    }

    func frozen(_ context: StepContext) -> Set<String> {
        context.globalStep < Self.freezeSteps(context) ? [prototypes.weight.name] : []
    }
}
