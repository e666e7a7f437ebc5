// The Double reference of the optimizer updates (the ground truth of the parity tests) and the
// argument checks both backends share, so they throw the same errors for the same inputs.
import Foundation

/// The optimizer updates of ``OptimizerOps`` in Double, on host arrays, in place.
///
/// Each function is the formula of its op, written once; ``ReferenceBackend`` runs them on the
/// float32 values of its tensors and the tests compare the OpenCL kernels against them.
public enum OptimizerReference {
    /// The constant torch's `clip_grad_norm_` and DINO's `clip_gradients` add to the norm.
    public static let clipEpsilon = 1e-6

    /// `torch.optim.SGD` (dampening 0): d_p = g + wd·p; buf = μ·buf + d_p; p −= lr·(nesterov ? d_p + μ·buf : buf).
    public static func sgd(p: inout [Double], g: [Double], buffer: inout [Double], lr: Double, options: SGDOptions) {
        let mu = options.momentum, wd = options.weightDecay
        for i in p.indices {
            let dp = g[i] + wd * p[i]
            buffer[i] = mu * buffer[i] + dp
            p[i] -= lr * (options.nesterov ? dp + mu * buffer[i] : buffer[i])
        }
    }

    /// The official LARS trust ratio `q = where(‖p‖ > 0, where(‖dp‖ > 0, η‖p‖/‖dp‖, 1), 1)`.
    public static func trustRatio(parameterNorm: Double, updateNorm: Double, eta: Double) -> Double {
        parameterNorm > 0 && updateNorm > 0 ? eta * parameterNorm / updateNorm : 1
    }

    /// Barlow Twins' LARS: dp = g + wd·p; dp ·= q (when `adapt`); mu = μ·mu + dp; p −= lr·mu.
    public static func lars(p: inout [Double], g: [Double], buffer: inout [Double], lr: Double,
                            options: LARSOptions, adapt: Bool) {
        let dp = p.indices.map { g[$0] + options.weightDecay * p[$0] }
        let q = adapt ? trustRatio(parameterNorm: norm([p]), updateNorm: norm([dp]), eta: options.eta) : 1
        for i in p.indices {
            buffer[i] = options.momentum * buffer[i] + q * dp[i]
            p[i] -= lr * buffer[i]
        }
    }

    /// The bias corrections of step `t` (≥ 1): `(lr / (1 − β₁ᵗ), √(1 − β₂ᵗ))`, as torch computes
    /// them in Python floats (double).
    public static func adamWCorrections(lr: Double, step: Int, options: AdamWOptions) -> (stepSize: Double, bc2Sqrt: Double) {
        let t = Double(step)
        return (lr / (1 - pow(options.beta1, t)), (1 - pow(options.beta2, t)).squareRoot())
    }

    /// `torch.optim.AdamW`: p ·= 1 − lr·wd; m += (1 − β₁)(g − m); v = β₂v + (1 − β₂)g²;
    /// p −= lr/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + ε).
    public static func adamW(p: inout [Double], g: [Double], m: inout [Double], v: inout [Double],
                             lr: Double, step: Int, options: AdamWOptions) {
        let (stepSize, bc2Sqrt) = adamWCorrections(lr: lr, step: step, options: options)
        let decay = 1 - lr * options.weightDecay
        for i in p.indices {
            m[i] += (1 - options.beta1) * (g[i] - m[i])
            v[i] = options.beta2 * v[i] + (1 - options.beta2) * g[i] * g[i]
            p[i] = p[i] * decay - stepSize * m[i] / (v[i].squareRoot() / bc2Sqrt + options.eps)
        }
    }

    /// The L2 norm of all tensors as one vector.
    public static func norm(_ tensors: [[Double]]) -> Double {
        tensors.reduce(0.0) { total, x in x.reduce(total) { $0 + $1 * $1 } }.squareRoot()
    }

    /// The factor `clip_grad_norm_` scales by: `maxNorm / (norm + 1e-6)` when below 1, else 1.
    public static func clipCoefficient(norm: Double, maxNorm: Double) -> Double {
        min(1, maxNorm / (norm + clipEpsilon))
    }

    // MARK: - Argument checks shared by both backends

    /// Throws unless `lr` is finite and ≥ 0 (0 is the first step of a warm-up).
    public static func validateLearningRate(_ lr: Double, op: String) throws {
        guard lr >= 0, lr.isFinite else {
            throw SSLError.invalidArgument(op: op, detail: "the learning rate must be a non-negative finite number, got \(lr)")
        }
    }

    static func checkNonNegative(_ value: Double, _ name: String, op: String) throws {
        guard value >= 0, value.isFinite else {
            throw SSLError.invalidArgument(op: op, detail: "\(name) must be a non-negative finite number, got \(value)")
        }
    }

    /// The learning rate and the shapes of a parameter update: every state tensor and the
    /// gradient have the parameter's shape.
    static func validateUpdate(op: String, parameter: Tensor, gradient: Tensor, state: [(String, Tensor)],
                               lr: Double) throws {
        try validateLearningRate(lr, op: op)
        try Shapes.same(gradient.shape, parameter.shape, op: op, names: ("gradient", "parameter"))
        for (name, tensor) in state {
            try Shapes.same(tensor.shape, parameter.shape, op: op, names: (name, "parameter"))
        }
    }

    static func validateAdamWStep(_ step: Int, op: String) throws {
        guard step >= 1 else {
            throw SSLError.invalidArgument(op: op, detail: "the step count must be at least 1 (the first step is 1), got \(step)")
        }
    }

    /// Throws unless `maxNorm` is finite and > 0.
    public static func validateMaxNorm(_ maxNorm: Double, op: String) throws {
        guard maxNorm > 0, maxNorm.isFinite else {
            throw SSLError.invalidArgument(op: op, detail: "the maximum norm must be a positive finite number, got \(maxNorm)")
        }
    }
}
