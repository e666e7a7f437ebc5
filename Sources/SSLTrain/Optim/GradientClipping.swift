// Gradient-norm clipping of a model's parameters: torch's global clip_grad_norm_ and DINO's
// per-parameter clip_gradients, both on the device through OptimizerOps.clipGlobalNorm.
import SSLCore

extension Backend {
    /// `torch.nn.utils.clip_grad_norm_(parameters, maxNorm)`: the L2 norm of all gradients as one
    /// vector; every gradient scaled by `maxNorm / (norm + 1e-6)` when that is below 1.
    ///
    /// ```swift
    /// let norm = try backend.clipGradientNorm(of: model.parameters, maxNorm: 1.0)
    /// ```
    /// - Returns: the norm before clipping, shape `[]`, on the device (no host round trip).
    public func clipGradientNorm(of parameters: [Parameter], maxNorm: Double) throws -> Tensor {
        try clipGlobalNorm(parameters.map(\.gradient), maxNorm: maxNorm)
    }

    /// DINO's `utils.clip_gradients(model, clip)` (facebookresearch/dino, `--clip_grad 3.0`): each
    /// gradient scaled by `clip / (‖g‖ + 1e-6)` when that is below 1, with its own norm.
    /// - Returns: each gradient's norm before clipping, shape `[]` each, in parameter order.
    public func clipGradientNormPerParameter(of parameters: [Parameter], maxNorm: Double) throws -> [Tensor] {
        try OptimizerReference.validateMaxNorm(maxNorm, op: "clipGradientNormPerParameter")
        return try parameters.map { try clipGlobalNorm([$0.gradient], maxNorm: maxNorm) }
    }
}
