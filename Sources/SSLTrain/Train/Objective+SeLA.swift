// SeLA: the head's own outputs over the whole training set, balanced by an equipartition
// constrained optimal transport (Sinkhorn-Knopp), give every image a pseudo-label; the network
// is trained to predict them.
import SSLCore

/// SeLA, self-labelling (yukimasano/self-label `main.py`, `sinkhornknopp.py`, `data.py`).
///
/// At the start of every epoch: the head's logits `(N, K)` of every training image (encoder in
/// eval mode on the unaugmented images, then the head) → ``SeLAOps/selaPseudoLabels(logits:lambda:maxIterations:)``
/// with λ = 25 (`--lamb 25`) and at most 1000 Sinkhorn steps → every image's pseudo-label.
///
/// Each step: one augmented view (`data.py --augs 3`: `RandomResizedCrop`, `RandomGrayscale(0.2)`,
/// `ColorJitter(0.4, 0.4, 0.4)` always applied, `RandomHorizontalFlip`) → encoder → head
/// `Linear(D → K)` (`nn.Linear`'s default initialisation, as `resnetv2`'s `top_layer`) →
/// cross-entropy on the batch's pseudo-labels → backward. Paper defaults: K = 3000 (`--ncl`), one
/// head (`--hc 1`), SGD lr 0.05, momentum 0.9, weight decay 10⁻⁵ (``OptimizerRecipe``).
///
/// **Differences from the official code.**
/// - K defaults to `min(3000, N/10)` (at least 1) so that small data sets keep ~10 images per
///   label; `config.prototypes` sets it.
/// - The labels are optimised once at the start of every epoch; the official does it `--nopts 100`
///   times over the run at quadratically spaced points (the first at step 0, as here).
/// - The official aggregates the outputs with the training loader (augmented images, the model in
///   train mode); here they come from the unaugmented images in eval mode, as DeepCluster's.
/// - Grayscale is drawn after the jitter rather than before it (``ViewPolicy``'s fixed order).
/// - The trainer's learning-rate schedule (warm-up, cosine) applies instead of the step drops
///   every 150 epochs.
final class SeLAObjective: Objective {
    let name = Method.sela.rawValue
    let encoder: any FeatureLayer
    /// `head.weight` `(K, D)`, `head.bias` `(K)`.
    let head: Linear
    let augmentation: AugmentPipeline
    /// K.
    let clusters: Int
    let pseudoLabels: PseudoLabels
    /// The paper's λ, the power of the softmax.
    let lambda = SeLAReference.defaultLambda
    private let backend: any Backend

    init(_ s: ObjectiveSetup) throws {
        backend = s.backend
        clusters = s.clusters(paper: 3000)
        encoder = try s.encoder()
        head = try Linear(name: "head", inFeatures: encoder.outputDimension, outFeatures: clusters, seed: s.config.seed,
                          on: backend)
        pseudoLabels = try PseudoLabels(count: s.datasetSize, on: backend)
        augmentation = AugmentPipeline(views: [s.adapted(.selfLabel(size: s.imageSize))], normalization: s.normalization,
                                       seed: s.config.seed)
    }

    var trainable: [any Layer] { [encoder, head] }
    var state: [NamedBuffer] { [pseudoLabels.checkpointEntry] }

    func beginEpoch(_ epoch: Int, trainer: Trainer) throws {
        let logits = try head.forward(try trainingFeatures(encoder, trainer)).output
        let result = try backend.selaPseudoLabels(logits: logits, lambda: lambda,
                                                  maxIterations: SeLAReference.defaultMaxIterations)
        try pseudoLabels.assign(result.labels)
    }

    func step(_ views: [Tensor], _ context: StepContext) throws -> Tensor {
        let labels = try pseudoLabels.labels(of: context.indices)
        return try pseudoLabelStep(trainable, views[0]) { try backend.selaLoss(logits: $0, labels: labels) }
    }
}

extension ViewPolicy {
    /// SeLA's training view (`data.py`, `augs == 3`): `RandomResizedCrop` (0.08, 1), `RandomGrayscale(p=0.2)`,
    /// `ColorJitter(0.4, 0.4, 0.4, 0.4)` on every image, `RandomHorizontalFlip`; no blur.
    static func selfLabel(size: Int) -> ViewPolicy {
        ViewPolicy(size: size, jitterProbability: 1, brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.4,
                   grayscaleProbability: 0.2, blurProbability: 0)
    }
}
