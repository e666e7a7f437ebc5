// BYOL and SimSiam: an online network with a predictor regresses a target projection of the
// other view (BYOL: an EMA teacher; SimSiam: the same network under stop-gradient).
import SSLCore

/// BYOL (google-deepmind/deepmind-research byol): online encoder → projector 4096→256 →
/// predictor 4096→256; target encoder → projector by EMA [τ 0.996 → 1, cosine]; the loss is
/// symmetrised: byol(p1, z2′) + byol(p2, z1′).
final class BYOLObjective: Objective {
    let name = Method.byol.rawValue
    let encoder: any FeatureLayer
    let projector: MLPHead, predictor: MLPHead
    let teacher: Teacher
    let augmentation: AugmentPipeline
    private let baseMomentum: Double
    private let backend: any Backend

    init(_ s: ObjectiveSetup) throws {
        backend = s.backend
        let dims = s.config.projector ?? [4096, 256]
        func projectorOf(_ encoder: any FeatureLayer) throws -> MLPHead {
            try MLPHead.byol(name: "projector", inputDimension: encoder.outputDimension, hiddenDimension: dims.first!,
                             outputDimension: dims.last!, seed: s.config.seed, on: s.backend)
        }
        encoder = try s.encoder()
        projector = try projectorOf(encoder)
        predictor = try MLPHead.byol(name: "predictor", inputDimension: dims.last!, hiddenDimension: dims.first!,
                                     outputDimension: dims.last!, seed: s.config.seed, on: s.backend)
        let targetEncoder = try s.encoder()
        teacher = try Teacher([targetEncoder, try projectorOf(targetEncoder)], copying: [encoder, projector], on: s.backend)
        augmentation = s.twoViews { .byol(size: s.imageSize, view: $0) }
        baseMomentum = s.config.emaMomentum ?? 0.996
    }

    var trainable: [any Layer] { [encoder, projector, predictor] }
    var teacherLayers: [any Layer] { teacher.layers }
    var state: [NamedBuffer] { teacher.state }

    /// View by view, as deepmind's byol_experiment applies the online and target networks to
    /// `view1` and `view2` in separate calls: batch norm sees each view's N rows apart.
    func step(_ views: [Tensor], _ context: StepContext) throws -> Tensor {
        let (p1, c1) = try trainable.forward(views[0])
        let (p2, c2) = try trainable.forward(views[1])
        let t1 = try teacher.layers.forward(views[0]).0, t2 = try teacher.layers.forward(views[1]).0
        let a = try backend.byol(p: p1, z: t2), b = try backend.byol(p: p2, z: t1)
        try trainable.backwardParameters(c2, b.dP)
        try trainable.backwardParameters(c1, a.dP)
        let loss = try backend.copy(a.loss)
        try backend.axpby(b.loss, alpha: 1, beta: 1, into: loss)
        return loss
    }

    func afterStep(_ context: StepContext) throws {
        try EMA.update(teacher: teacher.layers, online: [encoder, projector],
                       momentum: try EMA.cosine(base: baseMomentum, context), on: backend)
    }
}

/// SimSiam (facebookresearch/simsiam): encoder → projector 2048 (ends in BN) → predictor
/// 2048→512→2048; L = −½ cos(p1, sg(z2)) − ½ cos(p2, sg(z1)); no teacher.
final class SimSiamObjective: Objective {
    let name = Method.simsiam.rawValue
    let encoder: any FeatureLayer
    let projector: MLPHead, predictor: MLPHead
    let augmentation: AugmentPipeline
    private let backend: any Backend

    init(_ s: ObjectiveSetup) throws {
        backend = s.backend
        let dims = s.config.projector ?? [2048, 512]
        encoder = try s.encoder()
        projector = try MLPHead.simsiamProjector(inputDimension: encoder.outputDimension, outputDimension: dims.first!,
                                                 seed: s.config.seed, on: s.backend)
        predictor = try MLPHead.simsiamPredictor(dimension: dims.first!, hiddenDimension: dims.last!,
                                                 seed: s.config.seed, on: s.backend)
        augmentation = s.twoViews { .byol(size: s.imageSize, view: $0) }
    }

    var trainable: [any Layer] { [encoder, projector, predictor] }

    /// View by view, as facebookresearch/simsiam's `forward(x1, x2)` calls the encoder once per
    /// view: batch norm sees each view's N rows apart.
    func step(_ views: [Tensor], _ context: StepContext) throws -> Tensor {
        let backbone: [any Layer] = [encoder, projector]
        let (z1, c1) = try backbone.forward(views[0]), (z2, c2) = try backbone.forward(views[1])
        let (p1, q1) = try predictor.forward(z1), (p2, q2) = try predictor.forward(z2)
        let r = try backend.simSiam(p1: p1, p2: p2, z1: z1, z2: z2)
        // z reaches the loss only through the predictor: the stop-gradient cuts the direct path.
        try backbone.backwardParameters(c2, try predictor.backward(q2, r.dP2))
        try backbone.backwardParameters(c1, try predictor.backward(q1, r.dP1))
        return r.loss
    }
}
