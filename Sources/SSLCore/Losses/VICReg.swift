// VICReg (Bardes et al. 2022): variance-invariance-covariance regularisation of two views, its
// backend protocol, its result, its argument checks and its Double reference with the
// hand-derived backward pass.

/// VICReg's loss, its three unweighted terms and its gradients.
///
/// Bardes, Ponce, LeCun, "VICReg: Variance-Invariance-Covariance Regularization for
/// Self-Supervised Learning", ICLR 2022. Follows the official code, facebookresearch/vicreg
/// `main_vicreg.py` (`VICReg.forward`):
///
///     repr_loss = F.mse_loss(x, y)
///     x = x - x.mean(dim=0); y = y - y.mean(dim=0)
///     std_x = torch.sqrt(x.var(dim=0) + 0.0001); std_y = …
///     std_loss = torch.mean(F.relu(1 - std_x)) / 2 + torch.mean(F.relu(1 - std_y)) / 2
///     cov_x = (x.T @ x) / (self.args.batch_size - 1); cov_y = …
///     cov_loss = off_diagonal(cov_x).pow_(2).sum().div(self.num_features) + (same for cov_y)
///     loss = sim_coeff * repr_loss + std_coeff * std_loss + cov_coeff * cov_loss
///
/// that is, for views z1, z2 `(N, D)`, centred columns x̄ = z − mean_n(z), unbiased statistics
/// and ε = 1e-4:
///
///     s = (1/(N·D)) Σ (z1 − z2)²                                          (invariance)
///     v = (1/(2D)) Σ_j [relu(1 − σ1_j) + relu(1 − σ2_j)],  σ_j = sqrt(Σ_n x̄_nj²/(N−1) + ε)
///     c = (1/D) Σ_{i≠j} (K1_ij² + K2_ij²),                  K = x̄ᵀ x̄ / (N − 1)  (covariance)
///     L = sim · s + std · v + cov · c                       sim 25, std 25, cov 1 by default
///
/// ``VICRegResult/parts`` is `[s, v, c]`, unweighted: `repr_loss`, `std_loss`, `cov_loss` as the
/// official code names them before the coefficients. relu's subgradient at exactly 0 is 0, as
/// in PyTorch.
///
/// Differences from the official code: it gathers x and y across processes (`FullGatherLayer`)
/// for the variance and covariance terms and divides by the global `batch_size − 1`; here there
/// is one process, so the batch is N and the divisor N − 1. `num_features` is D.
///
/// ```swift
/// let r = try backend.vicreg(z1, z2, simCoeff: 25, stdCoeff: 25, covCoeff: 1)
/// print(try backend.download(r.parts))   // [invariance, variance, covariance]
/// ```
public protocol VICRegOps {
    /// The VICReg loss, its three unweighted terms and the gradients of the loss.
    ///
    /// - Parameters:
    ///   - z1: the first view's embeddings, `(N, D)`, N ≥ 2.
    ///   - z2: the second view's embeddings, `(N, D)`.
    ///   - simCoeff: the weight of the invariance term.
    ///   - stdCoeff: the weight of the variance term.
    ///   - covCoeff: the weight of the covariance term.
    ///   - form: the covariance term through K (D×D) or the batch's Gram matrices (N×N); the same
    ///     values up to rounding (``RedundancyForm``).
    /// - Throws: ``SSLError`` when the shapes differ, N < 2, or a coefficient is negative or not finite.
    func vicreg(_ z1: Tensor, _ z2: Tensor, simCoeff: Float, stdCoeff: Float, covCoeff: Float,
                form: RedundancyForm) throws -> VICRegResult
}

extension VICRegOps {
    /// ``vicreg(_:_:simCoeff:stdCoeff:covCoeff:form:)`` in the ``RedundancyForm/automatic`` form.
    public func vicreg(_ z1: Tensor, _ z2: Tensor, simCoeff: Float, stdCoeff: Float,
                       covCoeff: Float) throws -> VICRegResult {
        try vicreg(z1, z2, simCoeff: simCoeff, stdCoeff: stdCoeff, covCoeff: covCoeff, form: .automatic)
    }
}

/// What ``VICRegOps/vicreg(_:_:simCoeff:stdCoeff:covCoeff:form:)`` returns.
public struct VICRegResult {
    /// The weighted loss, a scalar (shape `[]`).
    public let loss: Tensor
    /// The unweighted terms `[invariance, variance, covariance]`, shape `[3]`.
    public let parts: Tensor
    /// ∂L/∂z1, `(N, D)`.
    public let dZ1: Tensor
    /// ∂L/∂z2, `(N, D)`.
    public let dZ2: Tensor
    /// The form that computed them: ``RedundancyForm/gram`` or ``RedundancyForm/feature``.
    public let form: RedundancyForm
}

/// The VICReg loss in Double on row-major `[Double]`: the reference backend's arithmetic and the
/// ground truth of the finite-difference tests.
///
/// Backward, by hand, for each view z with centred columns x̄ (llm.c style: the forward's
/// ``Cache`` holds what the backward rereads):
///
///     ∂s/∂z1 = 2 (z1 − z2) / (N·D) = −∂s/∂z2                               (invariance)
///     ∂v/∂z_nj = −[σ_j < 1] · x̄_nj / (2D · (N − 1) · σ_j)                  (variance)
///     ∂c/∂z = 4 x̄ · offdiag(K) / (D · (N − 1))                              (covariance)
///
/// The centring's own backward (subtracting each column's mean of the incoming gradient) drops
/// out of both the variance and the covariance terms: each is x̄ times a per-column or D×D
/// factor, and x̄'s columns sum to zero. With ``RedundancyForm/gram`` the same runs through the
/// N×N Gram matrices (``SecondMoment/gram(_:)``).
public enum VICRegReference {
    /// The paper's invariance weight λ.
    public static let defaultSimCoeff: Float = 25
    /// The paper's variance weight μ.
    public static let defaultStdCoeff: Float = 25
    /// The paper's covariance weight ν.
    public static let defaultCovCoeff: Float = 1
    /// Added to the variance before the square root (the official code's 0.0001).
    public static let eps = 1e-4

    /// The argument checks both backends run before computing anything, so they throw the same
    /// errors for the same inputs. Returns (N, D).
    static func validate(_ z1: [Int], _ z2: [Int], simCoeff: Float, stdCoeff: Float,
                         covCoeff: Float) throws -> (n: Int, d: Int) {
        let op = "vicreg"
        let (n, d) = try Shapes.matrix(z1, op: op, name: "z1")
        _ = try Shapes.matrix(z2, op: op, name: "z2")
        try Shapes.same(z1, z2, op: op, names: ("z1", "z2"))
        guard n >= 2 else {
            throw SSLError.invalidArgument(
                op: op, detail: "the unbiased variance needs a batch of at least 2 samples, got batch size N = \(n)")
        }
        for (name, value) in [("simCoeff", simCoeff), ("stdCoeff", stdCoeff), ("covCoeff", covCoeff)] {
            guard value >= 0, value.isFinite else {
                throw SSLError.invalidArgument(op: op, detail: "\(name) must be a non-negative finite number, got \(value)")
            }
        }
        return (n, d)
    }

    /// The weights of the three terms.
    public struct Coefficients {
        /// The weights of the invariance, variance and covariance terms.
        public let sim: Double, std: Double, cov: Double
        public init(sim: Double, std: Double, cov: Double) { (self.sim, self.std, self.cov) = (sim, std, cov) }
    }

    /// K = x̄ᵀ x̄ / (N − 1) or the Gram matrix that stands in for it.
    public enum SecondMoment {
        /// K `(D, D)`: the definition.
        case covariance([Double])
        /// G = x̄ x̄ᵀ `(N, N)`, never forming K:
        ///
        ///     Σ_{i≠j} K_ij² = ‖x̄ᵀx̄‖²_F/(N − 1)² − Σ_j K_jj² = ‖G‖²_F/(N − 1)² − Σ_j K_jj²
        ///
        /// Equal in exact arithmetic; O(N²·D) work instead of O(N·D²).
        case gram([Double])
    }

    /// One view's statistics: x̄ `(N, D)`, K's diagonal and σ `(D)`, and K or G.
    public struct View {
        /// x̄ = z − mean_n(z); K_jj = Σ_n x̄_nj²/(N − 1); σ_j = sqrt(K_jj + ε).
        public let centred: [Double], variance: [Double], std: [Double]
        public let secondMoment: SecondMoment

        public init(centred: [Double], variance: [Double], std: [Double], secondMoment: SecondMoment) {
            (self.centred, self.variance, self.std, self.secondMoment) = (centred, variance, std, secondMoment)
        }

        /// Σ_{i≠j} K_ij², D times the covariance term.
        func offDiagonalSquares(n: Int, d: Int) -> Double {
            switch secondMoment {
            case .covariance(let k):
                var sum = 0.0
                for i in 0..<d { for j in 0..<d where i != j { sum += k[i * d + j] * k[i * d + j] } }
                return sum
            case .gram(let g):
                let squaredNorm = g.reduce(0) { $0 + $1 * $1 } / Double((n - 1) * (n - 1))  // ‖K‖²_F
                return squaredNorm - variance.reduce(0) { $0 + $1 * $1 }
            }
        }
    }

    /// What ``backward(_:dLoss:)`` rereads from ``forward(z1:z2:n:d:coefficients:form:)``.
    public struct Cache {
        /// The batch N, the features D and the weights of the forward call.
        public let n: Int, d: Int, coefficients: Coefficients
        /// z1 − z2, `(N, D)`.
        public let difference: [Double]
        /// The statistics of z1 and z2.
        public let view1: View, view2: View
    }

    /// - Parameters:
    ///   - z1: view 1's embeddings `(N, D)`, row-major.
    ///   - z2: view 2's, `(N, D)`.
    ///   - n: N.
    ///   - d: D.
    ///   - coefficients: the weights of the three terms.
    ///   - form: ``RedundancyForm/gram`` computes the covariance term through G
    ///     (``SecondMoment/gram(_:)``); any other form through K, the definition.
    /// - Returns: the weighted loss, the unweighted `[s, v, c]`, and the cache.
    public static func forward(z1: [Double], z2: [Double], n: Int, d: Int, coefficients: Coefficients,
                               form: RedundancyForm = .feature) -> (loss: Double, parts: [Double], cache: Cache) {
        let difference = zip(z1, z2).map { $0 - $1 }
        let invariance = difference.reduce(0) { $0 + $1 * $1 } / Double(n * d)
        let view1 = view(z1, n: n, d: d, form: form), view2 = view(z2, n: n, d: d, form: form)
        var variance = 0.0, covariance = 0.0
        for v in [view1, view2] {
            variance += v.std.reduce(0) { $0 + max(1 - $1, 0) } / Double(d) / 2
            covariance += v.offDiagonalSquares(n: n, d: d)
        }
        covariance /= Double(d)
        let parts = [invariance, variance, covariance]
        let loss = coefficients.sim * invariance + coefficients.std * variance + coefficients.cov * covariance
        let cache = Cache(n: n, d: d, coefficients: coefficients, difference: difference, view1: view1, view2: view2)
        return (loss, parts, cache)
    }

    /// Centres the columns of z `(N, D)`; their unbiased variances, and K (or G for ``RedundancyForm/gram``).
    public static func view(_ z: [Double], n: Int, d: Int, form: RedundancyForm = .feature) -> View {
        var mean = [Double](repeating: 0, count: d)
        for r in 0..<n { for j in 0..<d { mean[j] += z[r * d + j] / Double(n) } }
        var centred = z
        for r in 0..<n { for j in 0..<d { centred[r * d + j] -= mean[j] } }
        var variance = [Double](repeating: 0, count: d)
        for r in 0..<n { for j in 0..<d { variance[j] += centred[r * d + j] * centred[r * d + j] / Double(n - 1) } }
        let std = variance.map { ($0 + eps).squareRoot() }
        if form == .gram {
            return View(centred: centred, variance: variance, std: std,
                        secondMoment: .gram(BarlowTwinsReference.gram(centred, n: n, d: d)))
        }
        var covariance = [Double](repeating: 0, count: d * d)
        for r in 0..<n {
            for i in 0..<d {
                for j in 0..<d { covariance[i * d + j] += centred[r * d + i] * centred[r * d + j] / Double(n - 1) }
            }
        }
        return View(centred: centred, variance: variance, std: std, secondMoment: .covariance(covariance))
    }

    /// The gradients of `dLoss · L` with respect to z1 and z2, each `(N, D)`.
    public static func backward(_ cache: Cache, dLoss: Double = 1) -> (dZ1: [Double], dZ2: [Double]) {
        let n = cache.n, d = cache.d, w = cache.coefficients
        // Invariance: ±2 (z1 − z2) / (N·D).
        let dInvariance = cache.difference.map { dLoss * w.sim * 2 * $0 / Double(n * d) }
        let dView1 = viewBackward(cache.view1, n: n, d: d, stdWeight: dLoss * w.std, covWeight: dLoss * w.cov)
        let dView2 = viewBackward(cache.view2, n: n, d: d, stdWeight: dLoss * w.std, covWeight: dLoss * w.cov)
        return (zip(dInvariance, dView1).map { $0 + $1 }, zip(dInvariance, dView2).map { $1 - $0 })
    }

    /// One view's share of the gradient: `stdWeight · ∂v/∂z + covWeight · ∂c/∂z`, `(N, D)`.
    public static func viewBackward(_ v: View, n: Int, d: Int, stdWeight: Double, covWeight: Double) -> [Double] {
        // Variance: relu(1 − σ)'s subgradient is −1 where σ < 1 and 0 elsewhere (0 at the kink);
        // ∂σ_j/∂z_nj = x̄_nj / ((N − 1) σ_j).
        let stdFactor = v.std.map { $0 < 1 ? -stdWeight / (2 * Double(d) * Double(n - 1) * $0) : 0 }
        // Covariance: ∂c/∂K = 2 offdiag(K)/D and K = x̄ᵀx̄/(N − 1) is symmetric, so
        // ∂c/∂x̄ = 2 x̄ (∂c/∂K) / (N − 1).
        let covFactor = covWeight * 4 / (Double(d) * Double(n - 1))
        var dZ = [Double](repeating: 0, count: n * d)
        for r in 0..<n {
            for j in 0..<d {
                let x = v.centred[r * d + j]
                dZ[r * d + j] = stdFactor[j] * x + covFactor * offDiagonalProduct(v, r, j, n: n, d: d)
            }
        }
        return dZ
    }

    /// (x̄ · offdiag(K))_rj; through G it is (x̄ K − x̄ diag(K))_rj = (G x̄)_rj/(N − 1) − x̄_rj K_jj.
    private static func offDiagonalProduct(_ v: View, _ r: Int, _ j: Int, n: Int, d: Int) -> Double {
        var product = 0.0
        switch v.secondMoment {
        case .covariance(let k):
            for m in 0..<d where m != j { product += v.centred[r * d + m] * k[m * d + j] }
            return product
        case .gram(let g):
            for m in 0..<n { product += g[r * n + m] * v.centred[m * d + j] }
            return product / Double(n - 1) - v.variance[j] * v.centred[r * d + j]
        }
    }
}
