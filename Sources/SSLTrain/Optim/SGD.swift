// SGD with momentum (torch.optim.SGD, dampening 0), optionally Nesterov, over a model's parameters.
import SSLCore

/// Stochastic gradient descent with momentum, as `torch.optim.SGD` with dampening 0:
/// `d_p = g + wd·p; buf = μ·buf + d_p; p −= lr·(nesterov ? d_p + μ·buf : buf)`, on the device
/// through `OptimizerOps.sgdUpdate(_:gradient:momentumBuffer:lr:options:)`.
///
/// ```swift
/// let sgd = try SGD(parameters: classifier.parameters, options: SGDOptions(momentum: 0.9, weightDecay: 0),
///                   on: backend)
/// try sgd.step(lr: 0.3)
/// ```
/// State: `"<parameter>.momentum_buffer"` (torch's name), zeros at the start.
public final class SGD: Optimizer {
    public let parameters: [Parameter]
    /// Momentum, weight decay and Nesterov; may change between steps.
    public var options: SGDOptions
    public var weightDecay: Double {
        get { options.weightDecay }
        set { options.weightDecay = newValue }
    }
    /// Whether biases and normalisation parameters get no weight decay (default true, the SSL
    /// recipes' choice; torch's SGD decays every parameter of a group).
    public var excludeBiasAndNormFromDecay: Bool
    public private(set) var stepCount = 0
    private var slots: OptimizerSlots

    /// - Parameters:
    ///   - parameters: the parameters to update, with unique names, all on `backend`.
    ///   - options: defaults are MoCo's (momentum 0.9, weight decay 1e-4); see `SGDOptions`.
    ///   - excludeBiasAndNormFromDecay: no weight decay for biases and normalisation parameters
    ///     (``Parameter/isBiasOrNorm``), as the SSL recipes.
    ///   - backend: where the parameters and the optimizer's state live.
    public init(parameters: [Parameter], options: SGDOptions = SGDOptions(),
                excludeBiasAndNormFromDecay: Bool = true, on backend: any Backend) throws {
        try options.validate(op: "SGD")
        self.parameters = parameters
        self.options = options
        self.excludeBiasAndNormFromDecay = excludeBiasAndNormFromDecay
        self.slots = try OptimizerSlots(parameters: parameters, slots: ["momentum_buffer"], backend: backend, op: "SGD")
    }

    public func step(lr: Double, skipping: Set<String>) throws {
        try slots.validateStep(lr: lr, skipping: skipping, op: "SGD.step")
        try options.validate(op: "SGD.step")
        for (p, state) in zip(parameters, slots.tensors) where !skipping.contains(p.name) {
            var o = options
            o.weightDecay = p.weightDecay(options.weightDecay, excludingBiasAndNorm: excludeBiasAndNormFromDecay)
            try slots.backend.sgdUpdate(p.value, gradient: p.gradient, momentumBuffer: state[0], lr: lr, options: o)
        }
        stepCount += 1
    }

    public var state: [(name: String, tensor: Tensor)] { slots.entries }

    public func restore(state: [(name: String, tensor: Tensor)], stepCount: Int) throws {
        let entries = try slots.checked(state, extraScalars: [], stepCount: stepCount, op: "SGD.restore")
        try slots.replace(from: entries)
        self.stepCount = stepCount
    }
}
