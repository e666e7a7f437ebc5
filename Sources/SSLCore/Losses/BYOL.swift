// BYOL: the normalised-regression loss of a prediction against a target projection, the
// cosine schedule of the target's EMA momentum, and the EMA update of the target's tensors.
import Foundation

/// BYOL's regression loss (Grill et al. 2020, "Bootstrap your own latent", eq. 2):
///
///     L = (1/N) Σ_n ‖p̂_n − ẑ_n‖²  =  (1/N) Σ_n (2 − 2·cos(p_n, z_n)),   x̂ = x / max(‖x‖₂, 1e-12),
///
/// with the target `z` under stop-gradient, so only `p` receives a gradient:
/// `dL/dp_n = J_n · 2(p̂_n − ẑ_n)/N` with `J_n` the Jacobian of the normalisation of row n.
///
/// Follows google-deepmind/deepmind-research, `byol/utils/helpers.py` (`regression_loss`:
/// `jnp.sum((l2_normalize(x) − l2_normalize(y))**2, axis=-1)`) and `byol/byol_experiment.py`
/// (`jnp.mean` over the batch). The official loss is symmetrised: the trainer adds the other
/// direction, `byol(p: p2, z: z1)`, to `byol(p: p1, z: z2)`; one direction is computed here.
///
/// Differences from the official code:
/// - Normalisation: `l2_normalize` there is `x · rsqrt(max(Σx², 1e-12))`, i.e. a clamp of the
///   norm at 1e-6; here it is the backend's ``Backend/l2Normalize(_:eps:)``,
///   `x / max(‖x‖, 1e-12)` (as `torch.nn.functional.normalize`), as the issue asks. The two agree
///   for every row whose norm exceeds 1e-6.
/// - The sum of squared differences is evaluated as written (not as `2 − 2 cos`), as the official
///   code does, so it stays accurate when `p̂ ≈ ẑ`.
public protocol BYOLOps {
    /// BYOL's loss of predictions `p` against target projections `z` (no gradient to `z`).
    ///
    /// ```swift
    /// let r = try backend.byol(p: p1, z: z2)    // add byol(p: p2, z: z1) for the symmetric loss
    /// ```
    /// - Parameters:
    ///   - p: online predictions, `(N, D)`.
    ///   - z: target projections, `(N, D)`.
    /// - Returns: the loss (shape `[]`) and `dP` `(N, D)`, the gradient w.r.t. the raw `p`.
    func byol(p: Tensor, z: Tensor) throws -> BYOLResult
}

/// What ``BYOLOps/byol(p:z:)`` returns.
public struct BYOLResult {
    /// The mean loss over the batch, a scalar (shape `[]`).
    public let loss: Tensor
    /// dL/dp, `(N, D)`.
    public let dP: Tensor

    public init(loss: Tensor, dP: Tensor) {
        self.loss = loss
        self.dP = dP
    }
}

/// The Double reference of BYOL's loss: the ground truth of the parity and gradient tests.
public enum BYOLReference {
    /// The normalisation eps: `max(‖x‖, eps)`, as ``Backend/l2Normalize(_:eps:)``.
    public static let eps = 1e-12

    /// Shape checks shared by both backends: `p` and `z` are the same non-empty matrix shape.
    public static func validate(p: [Int], z: [Int]) throws -> (n: Int, d: Int) {
        let (n, d) = try Shapes.matrix(p, op: "byol", name: "p")
        _ = try Shapes.matrix(z, op: "byol", name: "z")
        try Shapes.same(p, z, op: "byol", names: ("p", "z"))
        return (n, d)
    }

    /// What the backward pass rereads.
    public struct Cache {
        public let n: Int, d: Int
        /// The raw predictions (the normalisation's backward rereads their norms), `(N, D)`.
        public let p: [Double]
        /// p̂ and ẑ, `(N, D)`.
        public let pHat: [Double], zHat: [Double]
    }

    /// L = (1/N) Σ_n Σ_d (p̂_nd − ẑ_nd)².
    public static func forward(p: [Double], z: [Double], n: Int, d: Int) -> (loss: Double, cache: Cache) {
        let pHat = L2Normalize.forward(p, rows: n, cols: d, eps: eps)
        let zHat = L2Normalize.forward(z, rows: n, cols: d, eps: eps)
        var loss = 0.0
        for i in 0..<(n * d) { loss += (pHat[i] - zHat[i]) * (pHat[i] - zHat[i]) }
        return (loss / Double(n), Cache(n: n, d: d, p: p, pHat: pHat, zHat: zHat))
    }

    /// dL/dp for an upstream gradient `dLoss` of the scalar loss.
    public static func backward(_ cache: Cache, dLoss: Double = 1) -> [Double] {
        // Term 1: through the square, dL/dp̂ = 2 (p̂ − ẑ) / N.
        let scale = 2 * dLoss / Double(cache.n)
        let dPHat = (0..<(cache.n * cache.d)).map { scale * (cache.pHat[$0] - cache.zHat[$0]) }
        // Term 2: through the normalisation, dp = (dp̂ − p̂⟨p̂, dp̂⟩) / ‖p‖.
        return L2Normalize.backward(x: cache.p, dY: dPHat, rows: cache.n, cols: cache.d, eps: eps)
    }
}

// MARK: - The target network's EMA

/// BYOL's cosine schedule of the target network's EMA momentum (§3.2 of the paper):
///
///     τ_k = 1 − (1 − τ_base) · (cos(π k / K) + 1) / 2,
///
/// from `τ_base` at step 0 to 1 at step K. As in the official `byol/utils/schedules.py`
/// (`target_ema`, `_cosine_decay`), steps past K are clamped to K, so τ stays 1 there.
///
/// ```swift
/// let tau = try EMASchedule(base: 0.996).momentum(step: k, totalSteps: K)
/// try backend.emaUpdate(teacher: targetWeights, online: onlineWeights, momentum: Float(tau))
/// ```
public struct EMASchedule: Equatable {
    /// τ_base, the momentum at step 0 (the paper's 0.996).
    public let base: Double

    /// - Parameter base: τ_base, in [0, 1].
    public init(base: Double = 0.996) throws {
        guard base >= 0, base <= 1 else {
            throw SSLError.invalidArgument(op: "EMASchedule", detail: "base momentum must lie in [0, 1], got \(base)")
        }
        self.base = base
    }

    /// τ at `step` of `totalSteps` (K ≥ 1, step ≥ 0; a step past K counts as K).
    public func momentum(step: Int, totalSteps: Int) throws -> Double {
        guard totalSteps >= 1 else {
            throw SSLError.invalidArgument(op: "EMASchedule", detail: "totalSteps must be at least 1, got \(totalSteps)")
        }
        guard step >= 0 else {
            throw SSLError.invalidArgument(op: "EMASchedule", detail: "step must be non-negative, got \(step)")
        }
        let k = Double(min(step, totalSteps))
        return 1 - (1 - base) * (cos(Double.pi * k / Double(totalSteps)) + 1) / 2
    }
}

extension Backend {
    /// The EMA update of a target (teacher) network: `teacher_i ← τ · teacher_i + (1 − τ) · online_i`
    /// for every tensor pair, in place, through ``Backend/axpby(_:alpha:beta:into:)``.
    ///
    /// The same update as BYOL's `x + (1 − τ)(y − x)` and DINO's `param_k.mul_(m).add_((1 − m)·param_q)`.
    /// Every pair's shapes are checked before any tensor is written, so a shape error leaves the teacher unchanged.
    /// - Parameters:
    ///   - teacher: the target network's tensors, updated in place.
    ///   - online: the online (student) network's tensors, in the same order and shapes.
    ///   - momentum: τ in [0, 1], e.g. from ``EMASchedule/momentum(step:totalSteps:)``.
    public func emaUpdate(teacher: [Tensor], online: [Tensor], momentum: Float) throws {
        let op = "emaUpdate"
        guard momentum >= 0, momentum <= 1 else {
            throw SSLError.invalidArgument(op: op, detail: "momentum must lie in [0, 1], got \(momentum)")
        }
        guard teacher.count == online.count else {
            throw SSLError.shapeMismatch(op: op, detail: "\(teacher.count) teacher tensors but \(online.count) online tensors")
        }
        for (i, (t, o)) in zip(teacher, online).enumerated() {
            try Shapes.same(o.shape, t.shape, op: op, names: ("online[\(i)]", "teacher[\(i)]"))
        }
        let alpha = Float(1 - Double(momentum))
        for (t, o) in zip(teacher, online) { try axpby(o, alpha: alpha, beta: momentum, into: t) }
    }
}
