// AdamW (torch.optim.AdamW, amsgrad off) over a model's parameters, with a step count per parameter.
import SSLCore

/// Adam with decoupled weight decay (Loshchilov & Hutter 2019), exactly as `torch.optim.AdamW`:
/// `p ← p·(1 − lr·wd)`, then Adam with bias correction, on the device through
/// `OptimizerOps.adamWUpdate(_:gradient:firstMoment:secondMoment:lr:step:options:)`.
///
/// DINO (facebookresearch/dino, main_dino.py) trains ViTs with it, biases and norms excluded from
/// decay (`get_params_groups`) and the decay itself on a cosine schedule from 0.04 to 0.4:
/// ```swift
/// let adamw = try AdamW(parameters: student.parameters, options: AdamWOptions(weightDecay: 0.04), on: backend)
/// let weightDecaySchedule = try LinearWarmupCosine(baseLR: 0.04, warmupSteps: 0, totalSteps: steps, finalLR: 0.4)
/// adamw.options.weightDecay = try weightDecaySchedule.learningRate(at: adamw.stepCount)
/// try adamw.step(lr: try lrSchedule.learningRate(at: adamw.stepCount))
/// ```
/// Each parameter counts its own steps, as torch's `state['step']`, so a parameter skipped for a
/// while (DINO's frozen last layer) starts its bias correction at its own first step.
/// State: `"<parameter>.exp_avg"`, `"<parameter>.exp_avg_sq"` (zeros at the start) and
/// `"<parameter>.step"`, a scalar float32 tensor as torch keeps it (exact up to 2²⁴ steps).
public final class AdamW: Optimizer {
    public let parameters: [Parameter]
    /// Betas, eps and weight decay (defaults torch's); may change between steps.
    public var options: AdamWOptions
    public var weightDecay: Double {
        get { options.weightDecay }
        set { options.weightDecay = newValue }
    }
    /// Whether biases and normalisation parameters get no decay (default true, as DINO).
    public var excludeBiasAndNormFromDecay: Bool
    public private(set) var stepCount = 0
    /// Each parameter's number of updates, torch's `state['step']`.
    public private(set) var parameterSteps: [Int]
    private var slots: OptimizerSlots

    /// Float32 holds every integer up to 2²⁴ exactly, so step counts stay exact in checkpoints.
    static let maxStep = 1 << 24

    /// - Parameters:
    ///   - parameters: the parameters to update, with unique names, all on `backend`.
    ///   - options: defaults betas (0.9, 0.999), eps 1e-8, weight decay 0.01; see `AdamWOptions`.
    ///   - excludeBiasAndNormFromDecay: no weight decay for biases and normalisation parameters
    ///     (``Parameter/isBiasOrNorm``), as the SSL recipes.
    ///   - backend: where the parameters and the optimizer's state live.
    public init(parameters: [Parameter], options: AdamWOptions = AdamWOptions(),
                excludeBiasAndNormFromDecay: Bool = true, on backend: any Backend) throws {
        try options.validate(op: "AdamW")
        self.parameters = parameters
        self.options = options
        self.excludeBiasAndNormFromDecay = excludeBiasAndNormFromDecay
        self.parameterSteps = parameters.map { _ in 0 }
        self.slots = try OptimizerSlots(parameters: parameters, slots: ["exp_avg", "exp_avg_sq"], backend: backend,
                                        op: "AdamW")
    }

    public func step(lr: Double, skipping: Set<String>) throws {
        try slots.validateStep(lr: lr, skipping: skipping, op: "AdamW.step")
        try options.validate(op: "AdamW.step")
        for (p, steps) in zip(parameters, parameterSteps) where !skipping.contains(p.name) && steps >= Self.maxStep {
            throw SSLError.invalidArgument(
                op: "AdamW.step",
                detail: "parameter '\(p.name)' has reached \(Self.maxStep) steps, the most a float32 step count holds exactly")
        }
        for (i, (p, state)) in zip(parameters, slots.tensors).enumerated() where !skipping.contains(p.name) {
            var o = options
            o.weightDecay = p.weightDecay(options.weightDecay, excludingBiasAndNorm: excludeBiasAndNormFromDecay)
            try slots.backend.adamWUpdate(p.value, gradient: p.gradient, firstMoment: state[0], secondMoment: state[1],
                                          lr: lr, step: parameterSteps[i] + 1, options: o)
            parameterSteps[i] += 1
        }
        stepCount += 1
    }

    public var state: [(name: String, tensor: Tensor)] {
        get throws {
            let steps = try zip(parameters, parameterSteps).map { p, step in
                (name: "\(p.name).step", tensor: try slots.backend.upload([Float(step)], shape: []))
            }
            return slots.entries + steps
        }
    }

    public func restore(state: [(name: String, tensor: Tensor)], stepCount: Int) throws {
        let op = "AdamW.restore"
        let names = parameters.map { "\($0.name).step" }
        let entries = try slots.checked(state, extraScalars: names, stepCount: stepCount, op: op)
        let steps = try names.map { name in
            let value = try slots.backend.download(entries[name]!)[0]
            guard value >= 0, value <= Float(Self.maxStep), value == value.rounded() else {
                throw SSLError.invalidArgument(
                    op: op, detail: "state entry '\(name)' must hold a whole step count in [0, 2^24], got \(value)")
            }
            return Int(value)
        }
        try slots.replace(from: entries)
        parameterSteps = steps
        self.stepCount = stepCount
    }
}
