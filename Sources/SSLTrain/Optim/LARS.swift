// LARS as the official Barlow Twins code (facebookresearch/barlowtwins, main.py, class LARS).
import SSLCore

/// Layer-wise adaptive rate scaling as Barlow Twins' official `LARS` with
/// `weight_decay_filter=True, lars_adaptation_filter=True` (Zbontar et al. 2021):
///
///     dp = g + wd·p;   dp ·= q,  q = ‖p‖ > 0 ∧ ‖dp‖ > 0 ? η‖p‖/‖dp‖ : 1;   mu = μ·mu + dp;   p −= lr·mu,
///
/// per parameter tensor, on the device through
/// `OptimizerOps.larsUpdate(_:gradient:momentumBuffer:lr:options:adapt:)`. Biases and
/// normalisation parameters (``Parameter/isBiasOrNorm``, the official `p.ndim == 1`) are never
/// adapted, and get no weight decay while ``excludeBiasAndNormFromDecay`` is true.
///
/// The official script gives the two groups learning rates in the ratio 0.0048 : 0.2
/// (`--learning-rate-biases`, `--learning-rate-weights`):
/// ```swift
/// let lars = try LARS(parameters: model.parameters, biasAndNormLRScale: 0.0048 / 0.2, on: backend)
/// try lars.step(lr: 0.2 * schedule)      // weights at 0.2·lr, biases and norms at 0.0048·lr
/// ```
/// State: `"<parameter>.mu"` (the official name), zeros at the start.
public final class LARS: Optimizer {
    public let parameters: [Parameter]
    /// η, momentum and weight decay (defaults Barlow Twins'); may change between steps.
    public var options: LARSOptions
    public var weightDecay: Double {
        get { options.weightDecay }
        set { options.weightDecay = newValue }
    }
    /// The official `weight_decay_filter` (default true).
    public var excludeBiasAndNormFromDecay: Bool
    /// The learning rate of biases and normalisation parameters relative to the weights'.
    public let biasAndNormLRScale: Double
    public private(set) var stepCount = 0
    private var slots: OptimizerSlots

    /// - Parameters:
    ///   - parameters: the parameters to update, with unique names, all on `backend`.
    ///   - options: defaults η = 0.001, μ = 0.9, weight decay 1.5e-6; see `LARSOptions`.
    ///   - excludeBiasAndNormFromDecay: no weight decay for biases and normalisation parameters
    ///     (``Parameter/isBiasOrNorm``), as the SSL recipes.
    ///   - biasAndNormLRScale: ≥ 0; 1 gives every parameter the same learning rate.
    ///   - backend: where the parameters and the optimizer's state live.
    public init(parameters: [Parameter], options: LARSOptions = LARSOptions(), excludeBiasAndNormFromDecay: Bool = true,
                biasAndNormLRScale: Double = 1, on backend: any Backend) throws {
        try options.validate(op: "LARS")
        guard biasAndNormLRScale >= 0, biasAndNormLRScale.isFinite else {
            throw SSLError.invalidArgument(
                op: "LARS", detail: "biasAndNormLRScale must be a non-negative finite number, got \(biasAndNormLRScale)")
        }
        self.parameters = parameters
        self.options = options
        self.excludeBiasAndNormFromDecay = excludeBiasAndNormFromDecay
        self.biasAndNormLRScale = biasAndNormLRScale
        self.slots = try OptimizerSlots(parameters: parameters, slots: ["mu"], backend: backend, op: "LARS")
    }

    /// - Parameters:
    ///   - lr: the weights' learning rate; biases and norms get `lr · biasAndNormLRScale`.
    ///   - skipping: names of parameters left as they are this step.
    public func step(lr: Double, skipping: Set<String>) throws {
        try slots.validateStep(lr: lr, skipping: skipping, op: "LARS.step")
        try options.validate(op: "LARS.step")
        for (p, state) in zip(parameters, slots.tensors) where !skipping.contains(p.name) {
            var o = options
            o.weightDecay = p.weightDecay(options.weightDecay, excludingBiasAndNorm: excludeBiasAndNormFromDecay)
            try slots.backend.larsUpdate(p.value, gradient: p.gradient, momentumBuffer: state[0],
                                         lr: p.isBiasOrNorm ? lr * biasAndNormLRScale : lr, options: o,
                                         adapt: !p.isBiasOrNorm)
        }
        stepCount += 1
    }

    public var state: [(name: String, tensor: Tensor)] { slots.entries }

    public func restore(state: [(name: String, tensor: Tensor)], stepCount: Int) throws {
        let entries = try slots.checked(state, extraScalars: [], stepCount: stepCount, op: "LARS.restore")
        try slots.replace(from: entries)
        self.stepCount = stepCount
    }
}
