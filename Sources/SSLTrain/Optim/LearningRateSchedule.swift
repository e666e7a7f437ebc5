// Learning-rate schedules as pure functions of the step (so a resumed run continues exactly),
// and the linear scaling rule of the learning rate with the batch size.
import Foundation
import SSLCore

/// A learning rate for each step: a pure function of the step, so resuming from a checkpoint's
/// ``Optimizer/stepCount`` continues the schedule exactly.
///
/// ```swift
/// try optimizer.step(lr: try schedule.learningRate(at: optimizer.stepCount))
/// ```
public protocol LearningRateSchedule {
    /// The learning rate of step `step` (0 for the first step; ≥ 0).
    func learningRate(at step: Int) throws -> Double
}

/// The same learning rate at every step.
public struct ConstantLR: LearningRateSchedule, Equatable, Sendable {
    public let value: Double

    /// - Parameter value: finite and ≥ 0.
    public init(_ value: Double) throws {
        try OptimizerReference.validateLearningRate(value, op: "ConstantLR")
        self.value = value
    }

    public func learningRate(at step: Int) throws -> Double {
        try LinearWarmupCosine.validateStep(step, op: "ConstantLR")
        return value
    }
}

/// A linear warm-up from 0 to `baseLR`, then a half cosine from `baseLR` to `finalLR`:
///
///     lr(s) = baseLR · s / W                          for s < W,
///     lr(s) = baseLR · q + finalLR · (1 − q),  q = (1 + cos(π (s − W) / (T − W))) / 2   for W ≤ s ≤ T,
///
/// and `finalLR` after step T. This is Barlow Twins' `adjust_learning_rate`
/// (facebookresearch/barlowtwins, main.py: W = 10 epochs, T = all steps, finalLR = baseLR · 0.001).
/// DINO's `cosine_scheduler` (facebookresearch/dino, utils.py) is the same curve sampled with
/// `np.linspace(0, base, W)` and `cos(π i / (T − W))` for i < T − W, so its warm-up reaches
/// `baseLR` one step earlier and it stops one step short of `finalLR`.
///
/// ```swift
/// let base = LinearScalingRule.learningRate(base: 0.2, batchSize: 2048)        // 1.6
/// let schedule = try LinearWarmupCosine(baseLR: base, warmupSteps: 10 * stepsPerEpoch,
///                                       totalSteps: 1000 * stepsPerEpoch, finalLR: base * 0.001)
/// ```
public struct LinearWarmupCosine: LearningRateSchedule, Equatable, Sendable {
    public let baseLR: Double
    public let warmupSteps: Int
    public let totalSteps: Int
    public let finalLR: Double

    /// - Parameters:
    ///   - baseLR: the peak learning rate, reached at step `warmupSteps`; finite and ≥ 0.
    ///   - warmupSteps: W ≥ 0 (0: no warm-up).
    ///   - totalSteps: T > W, the step at which `finalLR` is reached.
    ///   - finalLR: finite and ≥ 0.
    public init(baseLR: Double, warmupSteps: Int, totalSteps: Int, finalLR: Double) throws {
        let op = "LinearWarmupCosine"
        try OptimizerReference.validateLearningRate(baseLR, op: op)
        try OptimizerReference.validateLearningRate(finalLR, op: op)
        guard warmupSteps >= 0 else {
            throw SSLError.invalidArgument(op: op, detail: "warmupSteps must be non-negative, got \(warmupSteps)")
        }
        guard totalSteps > warmupSteps else {
            throw SSLError.invalidArgument(op: op, detail: "totalSteps (\(totalSteps)) must exceed warmupSteps (\(warmupSteps))")
        }
        self.baseLR = baseLR
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.finalLR = finalLR
    }

    public func learningRate(at step: Int) throws -> Double {
        try Self.validateStep(step, op: "LinearWarmupCosine")
        if step < warmupSteps { return baseLR * Double(step) / Double(warmupSteps) }
        let s = Double(min(step, totalSteps) - warmupSteps), span = Double(totalSteps - warmupSteps)
        let q = 0.5 * (1 + cos(Double.pi * s / span))
        return baseLR * q + finalLR * (1 - q)
    }

    static func validateStep(_ step: Int, op: String) throws {
        guard step >= 0 else {
            throw SSLError.invalidArgument(op: op, detail: "step must be non-negative, got \(step)")
        }
    }
}

/// The linear scaling rule (Goyal et al. 2017): `lr = base · batchSize / 256`, as SimCLR, Barlow
/// Twins (`base_lr = batch_size / 256`, times 0.2 for weights) and DINO (`lr · batch_size / 256`) use.
public enum LinearScalingRule {
    /// The batch size the base learning rates of these papers refer to.
    public static let referenceBatchSize = 256

    /// `base · batchSize / referenceBatchSize`.
    /// - Parameters:
    ///   - base: the learning rate for a batch of `referenceBatchSize`; finite and ≥ 0.
    ///   - batchSize: the total batch size, ≥ 1.
    ///   - referenceBatchSize: the batch `base` was given for, 256 in the papers.
    public static func learningRate(base: Double, batchSize: Int, referenceBatchSize: Int = referenceBatchSize) throws -> Double {
        let op = "LinearScalingRule"
        try OptimizerReference.validateLearningRate(base, op: op)
        guard batchSize >= 1, referenceBatchSize >= 1 else {
            throw SSLError.invalidArgument(
                op: op, detail: "batch sizes must be at least 1, got \(batchSize) and \(referenceBatchSize)")
        }
        return base * Double(batchSize) / Double(referenceBatchSize)
    }
}
