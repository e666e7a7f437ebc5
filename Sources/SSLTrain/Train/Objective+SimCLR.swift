// SimCLR: two views through encoder and a 2-layer projector, NT-Xent between them.
import SSLCore

/// SimCLR (google-research/simclr): encoder → Linear, ReLU, Linear (→ 128) → NT-Xent [T 0.1].
final class SimCLRObjective: Objective {
    let name = Method.simclr.rawValue
    let encoder: any FeatureLayer
    let projector: MLPHead
    let augmentation: AugmentPipeline
    private let temperature: Float
    private let backend: any Backend

    init(_ s: ObjectiveSetup) throws {
        backend = s.backend
        encoder = try s.encoder()
        projector = try MLPHead.simclr(inputDimension: encoder.outputDimension,
                                       outputDimension: s.config.projector?.last ?? 128, seed: s.config.seed, on: s.backend)
        augmentation = s.twoViews { _ in .simclr(size: s.imageSize) }
        temperature = Float(s.temperature(0.1))
    }

    var trainable: [any Layer] { [encoder, projector] }

    /// Both views as one batch of 2N through encoder and projector, as google-research/simclr
    /// (`tf.concat(features_list, 0)`): batch norm normalises over both views together.
    func step(_ views: [Tensor], _ context: StepContext) throws -> Tensor {
        try backpropagate(views, through: trainable, batching: .joint, group: context.group, on: backend) { z in
            let r = try backend.ntXent(z[0], z[1], temperature: temperature)
            return (r.loss, [r.dZ1, r.dZ2])
        }
    }
}
