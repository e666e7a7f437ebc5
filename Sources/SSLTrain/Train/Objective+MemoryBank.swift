// Instance discrimination (Wu et al. 2018): one view per sample, NCE against a memory bank of
// every training sample's normalised embedding, the batch's rows updated by momentum.
import SSLCore

extension ViewPolicy {
    /// lemniscate.pytorch `main.py`'s training transform: RandomResizedCrop(scale 0.2–1),
    /// RandomGrayscale p 0.2, ColorJitter(0.4, 0.4, 0.4, 0.4) always, horizontal flip; no blur.
    /// The pipeline jitters before the grayscale where lemniscate converts first (the same on
    /// one-channel images, where grayscale is a no-op).
    static func instanceDiscrimination(size: Int) -> ViewPolicy {
        ViewPolicy(size: size, scale: 0.2...1, jitterProbability: 1, saturation: 0.4, hue: 0.4, blurProbability: 0)
    }
}

/// Instance discrimination with a memory bank (Wu, Xiong, Yu, Lin 2018; zhirongw/lemniscate.pytorch
/// `main.py`, `lib/NCEAverage.py`, `lib/NCECriterion.py`):
///
/// - network: encoder → `Linear(d, 128)` (lemniscate's `fc` to `--low-dim 128`, no BN; here
///   `config.projector?.last ?? 128`), normalised inside the loss;
/// - one view per sample (``ViewPolicy/instanceDiscrimination(size:)``);
/// - bank: one row per training sample, B = data set size, initialised as `NCEAverage`
///   (uniform in [−stdv, stdv], stdv = 1/√(D/3), seeded by `config.seed`);
/// - loss: NCE with m = 4096 negatives drawn uniformly from the bank [T = `config.temperature ?? 0.07`],
///   the normaliser Z computed from the first step's batch and then kept for the whole run (as
///   NCEAverage's `params[2]`, −1 until set); with `config.negatives == 0`, the paper's exact
///   non-parametric softmax over all B rows instead (lemniscate's `LinearAverage`, `--nce-k 0`);
///   the bank rows of the batch become normalize(0.5·w + 0.5·v) (`--nce-m 0.5`) after the step.
///
/// Deviations from the official code:
/// - The initial bank rows are normalised (the loss op takes a normalised bank); lemniscate keeps
///   the uniform rows as drawn, whose squared norm is 1 in expectation (that is what stdv is chosen
///   for), so this only removes their spread around 1.
/// - m is clamped to B − 1 on data sets smaller than 4097 images.
/// - Negatives come from a SplitMix64 stream seeded by (`config.seed`, global step) instead of
///   AliasMethod's unseeded draws, so a resumed run draws exactly what an uninterrupted one does.
/// - Z is in ``state`` (0 until the first step sets it); whether it is set is read from it once,
///   at the first step after construction or resume.
final class MemoryBankObjective: Objective {
    let name = Method.memorybank.rawValue
    let encoder: any FeatureLayer
    let projector: Linear
    /// `(B, D)`, row i the memory of training sample i; updated in place.
    let bank: Tensor
    /// NCE's Z, shape `[]`; 0 until the first step computes it.
    let normalizer: Tensor
    let augmentation: AugmentPipeline
    /// m, the NCE negatives per sample; nil for the full softmax.
    let negatives: Int?
    private let temperature: Float
    private let seed: UInt64
    private let backend: any Backend
    /// Whether ``normalizer`` holds Z; nil until read at the first step.
    private var normalizerSet: Bool?
    /// The bank after the step in progress, copied into ``bank`` by ``afterStep(_:)``.
    private var bankNext: Tensor?

    init(_ s: ObjectiveSetup) throws {
        backend = s.backend
        seed = s.config.seed
        let dimension = s.config.projector?.last ?? 128
        encoder = try s.encoder()
        projector = try Linear(name: "projector", inFeatures: encoder.outputDimension, outFeatures: dimension,
                               seed: s.config.seed, on: s.backend)
        // NCEAverage: torch.rand(B, D).mul_(2·stdv).add_(−stdv), stdv = 1/√(D/3).
        var rng = LayerRandom(seed: s.config.seed, name: "bank")
        bank = try s.backend.upload(rng.uniform(s.datasetSize * dimension, bound: 1 / (Double(dimension) / 3).squareRoot()),
                                    shape: [s.datasetSize, dimension])
        try s.backend.l2NormalizeInPlace(bank)
        normalizer = try s.backend.zeros([])
        augmentation = AugmentPipeline(views: [s.adapted(.instanceDiscrimination(size: s.imageSize))], normalization: s.normalization,
                                       seed: s.config.seed)
        let m = s.config.negatives ?? MemoryBankReference.defaultNegatives
        negatives = m == 0 ? nil : max(1, min(m, s.datasetSize - 1))
        temperature = Float(s.temperature(0.07))
    }

    var trainable: [any Layer] { [encoder, projector] }
    var state: [NamedBuffer] { [NamedBuffer(name: "bank", tensor: bank), NamedBuffer(name: "normalizer", tensor: normalizer)] }

    /// The negative sampler's seed of a step: a function of the run's seed and the global step only.
    static func negativeSeed(_ seed: UInt64, globalStep: Int) -> UInt64 {
        var rng = LayerRandom(seed: seed ^ (UInt64(globalStep) &* 0x9E37_79B9_7F4A_7C15), name: "negatives")
        return rng.next()
    }

    func step(_ views: [Tensor], _ context: StepContext) throws -> Tensor {
        let (local, caches) = try trainable.forward(views[0])
        // Every rank evaluates the whole global batch, so Z and the bank updates are the same on every copy.
        let z = try context.group.gatherRows(local, on: backend)
        let known = try normalizerSet ?? (try backend.download(normalizer)[0] > 0)
        let r = try backend.memoryBank(z: z, indices: context.globalIndices, bank: bank, temperature: temperature,
                                       negatives: negatives, seed: Self.negativeSeed(seed, globalStep: context.globalStep),
                                       normalizer: known && negatives != nil ? normalizer : nil, momentum: MemoryBankReference.defaultMomentum)
        if !known, let computed = r.normalizer { try backend.axpby(computed, alpha: 1, beta: 0, into: normalizer) }
        normalizerSet = true
        try trainable.backwardParameters(caches, try context.group.gatherBackward(r.dZ, on: backend))
        bankNext = r.bankNext
        return r.loss
    }

    func afterStep(_ context: StepContext) throws {
        guard let next = bankNext else { throw SSLError.invalidArgument(op: "train", detail: "memory bank: afterStep without a step") }
        bankNext = nil
        try backend.axpby(next, alpha: 1, beta: 0, into: bank)  // in place: checkpoints restore this tensor
    }
}
