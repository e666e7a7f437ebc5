// Barlow Twins and VICReg: two views through one encoder and projector, the loss on the two
// projections, and the backward of both views.
import SSLCore

/// The two-view pattern of Barlow Twins and VICReg: `views` through `layers` one view at a time,
/// as facebookresearch/barlowtwins and vicreg call their networks once per view (batch norm sees
/// the N rows of each view apart; SimCLR, SwAV and DINO run joint batches, ``JointForward``); the
/// loss on both views' embeddings of the whole global batch (gathered from every rank) gives
/// ∂L/∂z for each view, and each view's backward adds into the same parameters.
func twoViewStep(_ layers: [any Layer], _ views: [Tensor], _ context: StepContext,
                 loss: (Tensor, Tensor) throws -> (loss: Tensor, dZ1: Tensor, dZ2: Tensor)) throws -> Tensor {
    let (group, backend) = (context.group, context.backend)
    let (z1, c1) = try forward(layers, views[0])
    let (z2, c2) = try forward(layers, views[1])
    let r = try loss(try group.gatherRows(z1, on: backend), try group.gatherRows(z2, on: backend))
    try backward(layers, c2, try group.gatherBackward(r.dZ2, on: backend))
    try backward(layers, c1, try group.gatherBackward(r.dZ1, on: backend))
    return r.loss
}

/// Barlow Twins (facebookresearch/barlowtwins): encoder → projector 8192-8192-8192 → C → loss.
final class BarlowTwinsObjective: Objective {
    let method = Method.barlow
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

    func step(_ views: [Tensor], _ context: StepContext) throws -> Tensor {
        try twoViewStep(trainable, views, context) { z1, z2 in
            let r = try backend.barlowTwins(z1, z2, lambda: lambda, eps: 1e-5)
            return (r.loss, r.dZ1, r.dZ2)
        }
    }
}

/// VICReg (facebookresearch/vicreg): encoder → expander 8192-8192-8192 → variance, invariance, covariance.
final class VICRegObjective: Objective {
    let method = Method.vicreg
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

    func step(_ views: [Tensor], _ context: StepContext) throws -> Tensor {
        try twoViewStep(trainable, views, context) { z1, z2 in
            let r = try backend.vicreg(z1, z2, simCoeff: coefficients.sim, stdCoeff: coefficients.std, covCoeff: coefficients.cov)
            return (r.loss, r.dZ1, r.dZ2)
        }
    }
}
