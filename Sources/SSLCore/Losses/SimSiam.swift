// SimSiam: the symmetrised negative cosine similarity of each view's prediction with the other
// view's stop-gradient projection.

/// SimSiam's loss (Chen & He 2021, "Exploring Simple Siamese Representation Learning", eq. 2):
///
///     L = −½ · (1/N) Σ_n cos(p1_n, sg(z2_n)) − ½ · (1/N) Σ_n cos(p2_n, sg(z1_n)),
///     cos(x, y) = ⟨x̂, ŷ⟩,   x̂ = x / max(‖x‖₂, 1e-8),
///
/// so only the predictions receive gradients:
/// `dL/dp1_n = J(p1_n) · (−ẑ2_n / 2N)` and `dL/dp2_n = J(p2_n) · (−ẑ1_n / 2N)`, with `J` the
/// Jacobian of the row normalisation.
///
/// Follows facebookresearch/simsiam, `main_simsiam.py`: `criterion = nn.CosineSimilarity(dim=1)`,
/// `loss = −(criterion(p1, z2).mean() + criterion(p2, z1).mean()) · 0.5`, with `z1`, `z2` detached
/// by `simsiam/builder.py`.
///
/// The eps: `nn.CosineSimilarity` documents `x·y / max(‖x‖·‖y‖, ε)` with ε = 1e-8, the form the
/// issue quotes; PyTorch 2.x computes `⟨x / max(‖x‖, ε), y / max(‖y‖, ε)⟩` instead (the installed
/// torch 2.15 does: a row of norm 1e-5 against one of norm 1.4e-5 gives 0.707, not 0.01). This
/// implementation normalises each row with ``Backend/l2Normalize(_:eps:)``'s clamp
/// `max(‖x‖, 1e-8)`, i.e. PyTorch 2.x's form. All three agree whenever ‖x‖·‖y‖ > 1e-8 and both
/// norms exceed 1e-8, which the fixtures (the official code in float64) confirm at 1e-4.
public protocol SimSiamOps {
    /// SimSiam's symmetric loss of predictions `p1`, `p2` against the other view's projections.
    ///
    /// ```swift
    /// let r = try backend.simSiam(p1: p1, p2: p2, z1: z1, z2: z2)   // r.dP1, r.dP2 for the predictor
    /// ```
    /// - Parameters:
    ///   - p1: the prediction of view 1, `(N, D)`.
    ///   - p2: the prediction of view 2, `(N, D)`.
    ///   - z1: the projection of view 1, `(N, D)`, under stop-gradient.
    ///   - z2: the projection of view 2, `(N, D)`, under stop-gradient.
    /// - Returns: the loss (shape `[]`), `dP1` and `dP2` `(N, D)`.
    func simSiam(p1: Tensor, p2: Tensor, z1: Tensor, z2: Tensor) throws -> SimSiamResult
}

/// What ``SimSiamOps/simSiam(p1:p2:z1:z2:)`` returns.
public struct SimSiamResult {
    /// The loss, a scalar (shape `[]`), in [−1, 1].
    public let loss: Tensor
    /// dL/dp1, `(N, D)`.
    public let dP1: Tensor
    /// dL/dp2, `(N, D)`.
    public let dP2: Tensor

    public init(loss: Tensor, dP1: Tensor, dP2: Tensor) {
        self.loss = loss
        self.dP1 = dP1
        self.dP2 = dP2
    }
}

/// The Double reference of SimSiam's loss: the ground truth of the parity and gradient tests.
public enum SimSiamReference {
    /// The clamp of each norm, `max(‖x‖, eps)`: `nn.CosineSimilarity`'s default ε.
    public static let eps = 1e-8

    /// Shape checks shared by both backends: all four inputs are the same non-empty matrix shape.
    public static func validate(p1: [Int], p2: [Int], z1: [Int], z2: [Int]) throws -> (n: Int, d: Int) {
        let (n, d) = try Shapes.matrix(p1, op: "simSiam", name: "p1")
        for (name, shape) in [("p2", p2), ("z1", z1), ("z2", z2)] {
            _ = try Shapes.matrix(shape, op: "simSiam", name: name)
            try Shapes.same(p1, shape, op: "simSiam", names: ("p1", name))
        }
        return (n, d)
    }

    /// What the backward pass rereads.
    public struct Cache {
        public let n: Int, d: Int
        /// The raw predictions (their norms enter the normalisation's backward), `(N, D)`.
        public let p1: [Double], p2: [Double]
        /// ẑ1 and ẑ2, `(N, D)`: the other view's target direction of each prediction.
        public let z1Hat: [Double], z2Hat: [Double]
    }

    /// L = −(1/2N) Σ_n (⟨p̂1_n, ẑ2_n⟩ + ⟨p̂2_n, ẑ1_n⟩).
    public static func forward(p1: [Double], p2: [Double], z1: [Double], z2: [Double],
                               n: Int, d: Int) -> (loss: Double, cache: Cache) {
        let p1Hat = L2Normalize.forward(p1, rows: n, cols: d, eps: eps)
        let p2Hat = L2Normalize.forward(p2, rows: n, cols: d, eps: eps)
        let z1Hat = L2Normalize.forward(z1, rows: n, cols: d, eps: eps)
        let z2Hat = L2Normalize.forward(z2, rows: n, cols: d, eps: eps)
        var similarity = 0.0
        for i in 0..<(n * d) { similarity += p1Hat[i] * z2Hat[i] + p2Hat[i] * z1Hat[i] }
        return (-similarity / Double(2 * n), Cache(n: n, d: d, p1: p1, p2: p2, z1Hat: z1Hat, z2Hat: z2Hat))
    }

    /// (dL/dp1, dL/dp2) for an upstream gradient `dLoss` of the scalar loss.
    public static func backward(_ cache: Cache, dLoss: Double = 1) -> (dP1: [Double], dP2: [Double]) {
        // Term 1: through the dot products, dL/dp̂1 = −ẑ2 / 2N and dL/dp̂2 = −ẑ1 / 2N.
        let scale = -dLoss / Double(2 * cache.n)
        let dP1Hat = cache.z2Hat.map { scale * $0 }, dP2Hat = cache.z1Hat.map { scale * $0 }
        // Term 2: through each normalisation, dp = (dp̂ − p̂⟨p̂, dp̂⟩) / ‖p‖.
        return (L2Normalize.backward(x: cache.p1, dY: dP1Hat, rows: cache.n, cols: cache.d, eps: eps),
                L2Normalize.backward(x: cache.p2, dY: dP2Hat, rows: cache.n, cols: cache.d, eps: eps))
    }
}
