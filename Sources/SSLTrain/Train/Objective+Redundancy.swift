// Barlow Twins and VICReg: two views through one encoder and projector, the loss on the two
// projections, and the backward of both views.
import SSLCore

/// Barlow Twins (facebookresearch/barlowtwins): encoder → projector 8192-8192-8192 → C → loss.
final class BarlowTwinsObjective: Objective {
    let name = Method.barlow.rawValue
    let encoder: any FeatureLayer
    let projector: MLPHead
    let augmentation: AugmentPipeline
    private let lambda: Float
    private let backend: any Backend

    init(_ s: ObjectiveSetup) throws {
        backend = s.backend
        encoder = try s.encoder()
        projector = try MLPHead.barlowTwins(inputDimension: encoder.outputDimension,
                                            dims: s.config.projector ?? [8192, 8192, 8192], seed: s.config.seed, on: s.backend)
        augmentation = s.twoViews { .byol(size: s.imageSize, view: $0) }  // BT uses BYOL's asymmetric views
        lambda = Float(s.config.lambda)
    }

    var trainable: [any Layer] { [encoder, projector] }

    /// View by view, as facebookresearch/barlowtwins calls its network once per view: batch
    /// norm sees each view's N rows apart; the loss sees the whole global batch.
    func step(_ views: [Tensor], _ context: StepContext) throws -> Tensor {
        try backpropagate(views, through: trainable, group: context.group, on: backend) { z in
            let r = try backend.barlowTwins(z[0], z[1], lambda: lambda, eps: 1e-5)
            return (r.loss, [r.dZ1, r.dZ2])
        }
    }
}

/// VICReg (facebookresearch/vicreg): encoder → expander 8192-8192-8192 → variance, invariance, covariance.
final class VICRegObjective: Objective {
    let name = Method.vicreg.rawValue
    let encoder: any FeatureLayer
    let projector: MLPHead
    let augmentation: AugmentPipeline
    private let coefficients: (sim: Float, std: Float, cov: Float)
    private let backend: any Backend

    init(_ s: ObjectiveSetup) throws {
        backend = s.backend
        encoder = try s.encoder()
        projector = try MLPHead.vicreg(inputDimension: encoder.outputDimension,
                                       dims: s.config.projector ?? [8192, 8192, 8192], seed: s.config.seed, on: s.backend)
        augmentation = s.twoViews { .byol(size: s.imageSize, view: $0) }
        coefficients = (Float(s.config.simCoeff), Float(s.config.stdCoeff), Float(s.config.covCoeff))
    }

    var trainable: [any Layer] { [encoder, projector] }

    /// View by view, as facebookresearch/vicreg: batch norm sees each view's N rows apart.
    func step(_ views: [Tensor], _ context: StepContext) throws -> Tensor {
        try backpropagate(views, through: trainable, group: context.group, on: backend) { z in
            let r = try backend.vicreg(z[0], z[1], simCoeff: coefficients.sim, stdCoeff: coefficients.std, covCoeff: coefficients.cov)
            return (r.loss, [r.dZ1, r.dZ2])
        }
    }
}
