// MoCo v2: a query encoder, its momentum key encoder, and InfoNCE against a FIFO queue of keys.
import SSLCore

extension ViewPolicy {
    /// MoCo v2's `--aug-plus` views (facebookresearch/moco `main_moco.py`), SimCLR's recipe:
    /// RandomResizedCrop(scale 0.2–1), ColorJitter(0.4, 0.4, 0.4, 0.1) with p 0.8, RandomGrayscale
    /// p 0.2, GaussianBlur σ ∈ [0.1, 2] with p 0.5, horizontal flip. The pipeline flips first
    /// where torchvision flips last (the same distribution: the flip commutes with the other
    /// transforms).
    static func mocoV2(size: Int) -> ViewPolicy {
        ViewPolicy(size: size, scale: 0.2...1, saturation: 0.4, blurProbability: 0.5)
    }
}

/// MoCo v2 (facebookresearch/moco `main_moco.py` with `--mlp --moco-t 0.2 --aug-plus --cos`,
/// `moco/builder.py`):
///
/// - query encoder: encoder → `Linear(d, d), ReLU, Linear(d, 128)` (`--mlp`; the
///   ``MLPHead/simclr(name:inputDimension:outputDimension:seed:on:)`` preset, output
///   `config.projector?.last ?? 128`);
/// - key encoder: a ``Teacher`` copy of both, `θ_k ← m·θ_k + (1 − m)·θ_q` after every step with a
///   constant m = `config.emaMomentum ?? 0.999` (no schedule);
/// - loss: InfoNCE of q = query(view 0) against k = key(view 1) and a queue of K normalised keys
///   [T = `config.temperature ?? 0.2`]; only q gets a gradient. MoCo v2 is not symmetrised.
/// - queue: K×D (`config.queueSize`), initialised as builder.py (`randn`, then normalised; here
///   one key per row, seeded by `config.seed`); after the step the batch's keys replace the
///   oldest N rows. Augmentation: two views of ``ViewPolicy/mocoV2(size:)``.
///
/// Deviations from the official code:
/// - K defaults to `TrainConfig.queueSize` (4096), not the paper's 65536: a queue longer than the
///   training set would hold several stale keys of every image.
/// - The queue pointer is not stored: every step enqueues N = batch keys (the trainer drops the
///   last partial batch), so before global step s it is (s·N) mod K and a resumed run needs only
///   the queue itself, which is in ``state``.
/// - builder.py updates the key encoder and enqueues inside `forward` (update → keys → loss →
///   enqueue → optimizer); here both happen in ``afterStep(_:)`` (keys → loss → optimizer →
///   enqueue, update). The keys of a step and the queue they meet are the same: the first
///   official update, before any optimizer step, leaves the copy unchanged.
/// - No shuffling BN: it exists to stop keys and queries of one GPU's sub-batch sharing batch
///   statistics; here the key encoder's batch norm uses the statistics of the whole global
///   batch (synchronised over ranks), as one process computes them.
/// - Over several ranks the loss of each rank's queries is local (a mean over samples, averaged
///   with the gradients) and every rank enqueues every rank's keys, so all queues stay equal.
final class MoCoObjective: Objective {
    let name = Method.moco.rawValue
    let encoder: any FeatureLayer
    let projector: MLPHead
    let teacher: Teacher
    /// `(K, D)`, one normalised key per row, oldest first from ``pointer(before:)``.
    let queue: Tensor
    let augmentation: AugmentPipeline
    let momentum: Double
    private let temperature: Float
    private let backend: any Backend
    /// The keys of the step in progress, enqueued by ``afterStep(_:)``.
    private var keys: Tensor?

    init(_ s: ObjectiveSetup) throws {
        backend = s.backend
        let dimension = s.config.projector?.last ?? 128
        func headOf(_ encoder: any FeatureLayer) throws -> MLPHead {
            try MLPHead.simclr(inputDimension: encoder.outputDimension, outputDimension: dimension,
                               seed: s.config.seed, on: s.backend)
        }
        encoder = try s.encoder()
        projector = try headOf(encoder)
        let keyEncoder = try s.encoder()
        teacher = try Teacher([keyEncoder, try headOf(keyEncoder)], copying: [encoder, projector], on: s.backend)
        let size = s.config.queueSize
        guard size >= s.config.batchSize else {
            throw SSLError.invalidArgument(op: "train", detail: "the MoCo queue (\(size)) must hold at least one batch (\(s.config.batchSize))")
        }
        try HostMemory.require([size, dimension], what: "the MoCo queue of \(size) keys of \(dimension)")
        // builder.py: torch.randn(dim, K), normalised along dim; one key per row here.
        var seeder = LayerRandom(seed: s.config.seed, name: "queue")
        var rng = SplitMix64(seed: seeder.next())
        queue = try s.backend.upload((0..<(size * dimension)).map { _ in Float(rng.gaussian()) }, shape: [size, dimension])
        try s.backend.l2NormalizeInPlace(queue)
        augmentation = s.twoViews { _ in .mocoV2(size: s.imageSize) }
        momentum = s.config.emaMomentum ?? 0.999
        temperature = Float(s.temperature(0.2))
    }

    var trainable: [any Layer] { [encoder, projector] }
    var teacherLayers: [any Layer] { teacher.layers }
    var state: [NamedBuffer] { teacher.state + [NamedBuffer(name: "queue", tensor: queue)] }

    /// The oldest queue row before the step: N keys (the global batch) were enqueued by each earlier step.
    func pointer(before context: StepContext) -> Int { context.globalStep * context.globalIndices.count % queue.shape[0] }

    func step(_ views: [Tensor], _ context: StepContext) throws -> Tensor {
        let (q, caches) = try trainable.forward(views[0])
        let k = try teacher.layers.forward(views[1]).0
        let r = try backend.moco(q: q, k: k, queue: queue, temperature: temperature)
        try trainable.backwardParameters(caches, r.dQ)
        keys = try context.group.gatherRows(k, purpose: "keys", on: backend)  // concat_all_gather: every rank's keys
        return r.loss
    }

    func afterStep(_ context: StepContext) throws {
        guard let k = keys else { throw SSLError.invalidArgument(op: "train", detail: "MoCo: afterStep without a step") }
        keys = nil
        _ = try backend.mocoEnqueue(keys: k, into: queue, at: pointer(before: context))
        try EMA.update(teacher: teacher.layers, online: trainable, momentum: momentum, on: backend)
    }
}
