// The optimizer updates as device ops: SGD, LARS and AdamW steps of one parameter tensor and
// its state, in place, and the gradient-norm clipping of a list of tensors. Hyperparameters are
// Double; the OpenCL backend rounds them (and host-side products such as AdamW's bias
// corrections, computed in Double) to float32 at launch. The Double reference is in
// OptimizerReference.swift.

/// The optimizer updates, each in place on the device: nothing goes to the host, so a training
/// step enqueues its updates behind the backward pass on the same queue.
///
/// One call updates one parameter tensor; the optimizer types of SSLTrain loop over a model's
/// parameters and decide each one's weight decay and LARS adaptation. Every argument is checked
/// before anything is written, so a call that throws leaves all its tensors unchanged.
/// NaN or Inf in a gradient is not detected here (that would need a host round trip); it
/// propagates into the parameter as it does in PyTorch.
public protocol OptimizerOps {
    /// One step of `torch.optim.SGD` (dampening 0), in place:
    ///
    ///     d_p = g + wd·p;   buf = μ·buf + d_p;   p −= lr · (nesterov ? d_p + μ·buf : buf).
    ///
    /// Start `momentumBuffer` at zeros: with dampening 0 the first step gives `buf = d_p`, as
    /// torch's `buf = clone(d_p)`. With μ = 0 this is plain SGD.
    /// - Parameters:
    ///   - parameter: `p`, any shape, updated in place.
    ///   - gradient: `g`, the shape of `parameter`.
    ///   - momentumBuffer: `buf`, the shape of `parameter`, updated in place.
    ///   - lr: the learning rate, ≥ 0.
    ///   - options: μ, the weight decay and Nesterov (``SGDOptions``).
    func sgdUpdate(_ parameter: Tensor, gradient: Tensor, momentumBuffer: Tensor, lr: Double,
                   options: SGDOptions) throws

    /// One step of LARS as the official Barlow Twins code (facebookresearch/barlowtwins,
    /// main.py, `class LARS`), in place:
    ///
    ///     dp = g + wd·p;   q = ‖p‖ > 0 ∧ ‖dp‖ > 0 ? η‖p‖/‖dp‖ : 1   (only when `adapt`);
    ///     mu = μ·mu + q·dp;   p −= lr·mu.
    ///
    /// The norms are reduced on the device and read by the update kernel on the same queue.
    /// For biases and normalisation parameters the official code passes `adapt: false` and
    /// `weightDecay` 0 (its `weight_decay_filter` and `lars_adaptation_filter`).
    /// - Parameters:
    ///   - parameter: `p`, any shape, updated in place.
    ///   - gradient: `g`, the shape of `parameter`.
    ///   - momentumBuffer: `mu`, the shape of `parameter`, zeros at the start (as the official code).
    ///   - lr: the learning rate, ≥ 0.
    ///   - options: μ, η and the weight decay (``LARSOptions``).
    ///   - adapt: whether to scale by the trust ratio `q`.
    func larsUpdate(_ parameter: Tensor, gradient: Tensor, momentumBuffer: Tensor, lr: Double,
                    options: LARSOptions, adapt: Bool) throws

    /// One step of `torch.optim.AdamW` (amsgrad off), in place: decoupled decay, then Adam with
    /// bias correction,
    ///
    ///     p ← p·(1 − lr·wd);   m ← m + (1 − β₁)(g − m);   v ← β₂·v + (1 − β₂)·g²;
    ///     p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε).
    ///
    /// - Parameters:
    ///   - parameter: `p`, any shape, updated in place.
    ///   - gradient: `g`, the shape of `parameter`.
    ///   - firstMoment: `m` (torch's `exp_avg`), zeros at the start, updated in place.
    ///   - secondMoment: `v` (torch's `exp_avg_sq`), zeros at the start, updated in place.
    ///   - lr: the learning rate, ≥ 0.
    ///   - step: `t`, this parameter's step count including this step (1 on the first step).
    ///   - options: β₁, β₂, ε and the weight decay (``AdamWOptions``).
    func adamWUpdate(_ parameter: Tensor, gradient: Tensor, firstMoment: Tensor, secondMoment: Tensor,
                     lr: Double, step: Int, options: AdamWOptions) throws

    /// The L2 norm of all `tensors` seen as one vector, reduced on the device; shape `[]`.
    /// An empty list has norm 0.
    func globalNorm(_ tensors: [Tensor]) throws -> Tensor

    /// `torch.nn.utils.clip_grad_norm_`: scales every tensor in place by `c = maxNorm / (‖·‖ + 1e-6)`
    /// when `c < 1`, where `‖·‖` is the ``globalNorm(_:)`` of the list; otherwise leaves them.
    ///
    /// DINO (facebookresearch/dino, utils.py `clip_gradients`, `--clip_grad 3.0`) clips each
    /// parameter by its own norm: call this once per gradient.
    /// - Returns: the norm before clipping, shape `[]`, on the device.
    func clipGlobalNorm(_ tensors: [Tensor], maxNorm: Double) throws -> Tensor
}

// MARK: - Hyperparameters

/// The hyperparameters of ``OptimizerOps/sgdUpdate(_:gradient:momentumBuffer:lr:options:)``.
///
/// Defaults are MoCo's (facebookresearch/moco, main_moco.py: momentum 0.9, weight decay 1e-4),
/// the usual SGD setup of self-supervised pre-training and linear evaluation; torch's own
/// defaults are momentum 0 and weight decay 0.
public struct SGDOptions: Equatable, Sendable {
    /// μ, ≥ 0.
    public var momentum: Double
    /// The L2 penalty added to the gradient, ≥ 0.
    public var weightDecay: Double
    /// Nesterov momentum (needs μ > 0, as torch requires).
    public var nesterov: Bool

    public init(momentum: Double = 0.9, weightDecay: Double = 1e-4, nesterov: Bool = false) {
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    /// Throws ``SSLError/invalidArgument(op:detail:)`` naming the first bad field.
    public func validate(op: String = "sgdUpdate") throws {
        try OptimizerReference.checkNonNegative(momentum, "momentum", op: op)
        try OptimizerReference.checkNonNegative(weightDecay, "weight decay", op: op)
        if nesterov && momentum == 0 {
            throw SSLError.invalidArgument(op: op, detail: "Nesterov momentum needs a momentum above 0")
        }
    }
}

/// The hyperparameters of ``OptimizerOps/larsUpdate(_:gradient:momentumBuffer:lr:options:adapt:)``.
///
/// Defaults are Barlow Twins' (Zbontar et al. 2021, §4 and facebookresearch/barlowtwins main.py):
/// η = 0.001 and μ = 0.9 as the official `LARS` class, weight decay 1.5e-6 as the paper (the
/// official script's `--weight-decay` default is 1e-6).
public struct LARSOptions: Equatable, Sendable {
    /// μ, ≥ 0.
    public var momentum: Double
    /// The L2 penalty added to the gradient before the trust ratio, ≥ 0.
    public var weightDecay: Double
    /// η, the trust coefficient, ≥ 0.
    public var eta: Double

    public init(momentum: Double = 0.9, weightDecay: Double = 1.5e-6, eta: Double = 0.001) {
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.eta = eta
    }

    /// Throws ``SSLError/invalidArgument(op:detail:)`` naming the first bad field.
    public func validate(op: String = "larsUpdate") throws {
        try OptimizerReference.checkNonNegative(momentum, "momentum", op: op)
        try OptimizerReference.checkNonNegative(weightDecay, "weight decay", op: op)
        try OptimizerReference.checkNonNegative(eta, "eta", op: op)
    }
}

/// The hyperparameters of ``OptimizerOps/adamWUpdate(_:gradient:firstMoment:secondMoment:lr:step:options:)``.
///
/// Defaults are `torch.optim.AdamW`'s: betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
/// (DINO schedules its weight decay from 0.04 to 0.4; set ``weightDecay`` each step.)
public struct AdamWOptions: Equatable, Sendable {
    /// β₁, in [0, 1).
    public var beta1: Double
    /// β₂, in [0, 1).
    public var beta2: Double
    /// ε, added to the bias-corrected √v, ≥ 0.
    public var eps: Double
    /// The decoupled decay rate, ≥ 0: p ← p·(1 − lr·wd).
    public var weightDecay: Double

    public init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0.01) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
    }

    /// Throws ``SSLError/invalidArgument(op:detail:)`` naming the first bad field.
    public func validate(op: String = "adamWUpdate") throws {
        for (value, name) in [(beta1, "beta1"), (beta2, "beta2")] {
            guard value >= 0, value < 1 else {
                throw SSLError.invalidArgument(op: op, detail: "\(name) must lie in [0, 1), got \(value)")
            }
        }
        try OptimizerReference.checkNonNegative(eps, "eps", op: op)
        try OptimizerReference.checkNonNegative(weightDecay, "weight decay", op: op)
    }
}
