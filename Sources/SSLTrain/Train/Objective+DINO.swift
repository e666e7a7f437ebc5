// DINO: a student (encoder + DINO head) on every multi-crop view matches the centred, sharpened
// output of an EMA teacher on the two global views.
import Foundation
import SSLCore

/// DINO (facebookresearch/dino `main_dino.py`, `DINOLoss`, `vision_transformer.py` `DINOHead`),
/// with the official defaults:
///
/// - student: encoder → `DINOHead` (hidden 2048, bottleneck 256, 3 layers, GELU, L2 normalisation,
///   weight-normalised last layer with g = 1), out K = `config.prototypes ?? 65536`;
///   `config.projector` may give `[hidden]` or `[hidden, bottleneck]`;
/// - teacher: a copy of encoder and head, updated after each step by EMA with the cosine schedule
///   from `config.emaMomentum ?? 0.996` (`--momentum_teacher`) to 1;
/// - multi-crop (``ObjectiveSetup/multiCrop()``): the teacher sees the 2 global views, the student
///   every view;
/// - loss ``DINOOps`` with τ_s = 0.1 and the centre (1×K, zeros at the start) updated with m = 0.9;
///   τ_t warms up linearly from 0.04 to `config.temperature ?? 0.07` over 30 epochs (the paper's
///   `--warmup_teacher_temp_epochs 30 --teacher_temp 0.07`; ``DINOSchedule``), scaled as the
///   learning-rate warm-up: at most a tenth of the run, min(30, epochs / 10) epochs, so runs under
///   10 epochs start at the final τ_t;
/// - the last layer is frozen during the first epoch (`--freeze_last_layer 1`), at most a tenth
///   of the run as the warm-ups (an epoch of a 2-epoch run would be half of it); gradients are
///   clipped to norm 3.0 per parameter (`--clip_grad 3.0`) after the backward;
/// - AdamW, base LR 0.0005 per 256, weight decay from 0.04 rising by cosine to ten times that,
///   0.4, over the run, step by step (`--weight_decay 0.04 --weight_decay_end 0.4`,
///   `cosine_scheduler`; ``weightDecay(_:base:)``; a configured base keeps the ratio);
/// - crops of one resolution through the backbone as one batch, all crops through the head as
///   one (``JointForward``, the official `MultiCropWrapper`).
///
/// Deviations: the crop
/// scales are SwAV's (0.14–1 global, 0.05–0.14 local), which is also DINO's ResNet-50 recipe (its
/// ViT defaults are 0.4–1 and 0.05–0.4); `encoder`, the evaluated network, is the student's (the
/// official evaluation reads the teacher, which is in the checkpoint under `method/teacher/`).
final class DINOObjective: Objective {
    let name = Method.dino.rawValue
    let encoder: any FeatureLayer
    let head: DINOHead
    let teacher: Teacher
    /// The centre c `(1, K)`, updated in place after each step.
    let center: Tensor
    let augmentation: AugmentPipeline
    private let baseMomentum: Double
    private let finalTeacherTemperature: Double
    /// Epochs of the teacher-temperature warm-up.
    let teacherWarmupEpochs: Int
    private let backend: any Backend
    /// `--warmup_teacher_temp 0.04`, τ_s, the centre's momentum and `--clip_grad 3.0`.
    static let warmupTeacherTemperature = 0.04, studentTemperature: Float = 0.1, centerMomentum: Float = 0.9
    static let clipGradient = 3.0
    /// `--warmup_teacher_temp_epochs` of the paper's runs, `--freeze_last_layer`.
    static let paperTeacherWarmupEpochs = 30, freezeLastLayerEpochs = 1

    init(_ s: ObjectiveSetup) throws {
        backend = s.backend
        let widths = s.config.projector ?? [2048, 256]
        guard widths.count <= 2 else {
            throw SSLError.invalidArgument(op: "train", detail: "DINO's projector is [hidden] or [hidden, bottleneck], got \(widths)")
        }
        let k = s.config.prototypes ?? 65536
        func headOf(_ encoder: any FeatureLayer) throws -> DINOHead {
            try DINOHead(name: "head", inputDimension: encoder.outputDimension, outputDimension: k, hiddenDimension: widths[0],
                         bottleneckDimension: widths.count == 2 ? widths[1] : 256, seed: s.config.seed, on: s.backend)
        }
        encoder = try s.encoder()
        head = try headOf(encoder)
        let teacherEncoder = try s.encoder()
        teacher = try Teacher([teacherEncoder, try headOf(teacherEncoder)], copying: [encoder, head], on: s.backend)
        center = try s.backend.zeros([1, k])
        augmentation = try s.multiCrop()
        baseMomentum = s.config.emaMomentum ?? 0.996
        finalTeacherTemperature = s.temperature(0.07)
        teacherWarmupEpochs = min(Self.paperTeacherWarmupEpochs, s.config.epochs / 10)
    }

    var trainable: [any Layer] { [encoder, head] }
    var teacherLayers: [any Layer] { teacher.layers }
    var state: [NamedBuffer] { teacher.state + [NamedBuffer(name: "center", tensor: center)] }

    /// τ_t at `epoch`.
    func teacherTemperature(epoch: Int) throws -> Double {
        try DINOSchedule.teacherTemperature(epoch: epoch, warmupTemperature: Self.warmupTeacherTemperature,
                                            teacherTemperature: finalTeacherTemperature, warmupEpochs: teacherWarmupEpochs)
    }

    /// Student and teacher run the crops as DINO's `MultiCropWrapper` (``JointForward``): those of
    /// one resolution as one batch through the backbone, all of them as one batch through the head.
    func step(_ views: [Tensor], _ context: StepContext) throws -> Tensor {
        let student = JointForward(backbone: [encoder], head: [head])
        let (outputs, cache) = try student.forward(views, on: backend)
        let targets = try JointForward(backbone: [teacher.layers[0]], head: [teacher.layers[1]])
            .forward(Array(views.prefix(2)), on: backend).outputs
        let r = try backend.dino(student: outputs, teacher: targets, center: center,
                                 studentTemperature: Self.studentTemperature,
                                 teacherTemperature: Float(try teacherTemperature(epoch: context.epoch)),
                                 centerMomentum: Self.centerMomentum)
        // The centre moves towards the teacher's batch mean: m·c + (1 − m)·mean is linear in the
        // mean, so the rank average of each rank's update is the update with the global mean.
        try context.group.averageInPlace(r.centerNext, purpose: "centre", on: backend)
        try backend.axpby(r.centerNext, alpha: 1, beta: 0, into: center)
        try student.backward(cache, r.dStudent, on: backend)
        return r.loss
    }

    /// `--weight_decay_end` / `--weight_decay`: 0.4 / 0.04.
    static let weightDecayEndRatio = 10.0

    /// utils.cosine_scheduler(base, end, epochs, iterations) at this step: end + (base − end)(1 + cos(π t/T))/2.
    func weightDecay(_ context: StepContext, base: Double) -> Double {
        let end = base * Self.weightDecayEndRatio
        let t = Double(context.globalStep) / Double(max(context.totalSteps, 1))
        return end + (base - end) * (1 + cos(Double.pi * t)) / 2
    }

    /// utils.clip_gradients, on the gradients averaged over the ranks.
    func beforeOptimizer(_ context: StepContext) throws {
        _ = try backend.clipGradientNormPerParameter(of: parameters, maxNorm: Self.clipGradient)
    }

    func frozen(_ context: StepContext) -> Set<String> {
        let steps = min(Self.freezeLastLayerEpochs * context.stepsPerEpoch, context.totalSteps / 10)
        return context.globalStep < steps ? Set(head.lastLayer.parameters.map(\.name)) : []
    }

    func afterStep(_ context: StepContext) throws {
        try EMA.update(teacher: teacher.layers, online: [encoder, head],
                       momentum: try EMA.cosine(base: baseMomentum, context), on: backend)
    }
}
