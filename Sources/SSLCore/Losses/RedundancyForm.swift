// Which square matrices Barlow Twins and VICReg are computed through: the D×D feature matrices
// of their definitions, or the N×N Gram matrices of the batch (BarlowTwins.swift, VICReg.swift).

/// How a redundancy-reduction loss (Barlow Twins, VICReg) is computed; every form gives the same
/// loss and gradients up to rounding.
///
/// Both losses are sums of squares of a D×D matrix M = AᵀB (Barlow Twins' C = Y1ᵀY2/N, VICReg's
/// K = x̄ᵀx̄/(N − 1)), and `‖AᵀB‖²_F = tr(AᵀB BᵀA) = ⟨AAᵀ, BBᵀ⟩_F`: the same sum from the N×N Gram
/// matrices of the batch. Work and memory per form, for views of N samples and D features:
///
/// | form | GEMMs (flops) | largest intermediates |
/// |---|---|---|
/// | ``feature`` | Barlow Twins 6ND², VICReg 8ND² | two D×D |
/// | ``gram`` | Barlow Twins 8N²D, VICReg 8N²D | two N×N |
///
/// At the papers' N = 2048, D = 8192 the Gram form holds 2 × 16 MiB instead of 2 × 256 MiB and
/// does a third (Barlow Twins) or a quarter (VICReg) of the GEMM flops. The off-diagonal sum is then `⟨G1, G2⟩/N² − Σ_i C_ii²`, a
/// difference: it loses float32 digits only where the off-diagonal part is small against the
/// diagonal one, which rank(C) ≤ N − 1 < D rules out when N is well below D (the off-diagonal
/// share of ‖C‖² is at least 1 − (N − 1)/D when the diagonal is near 1).
public enum RedundancyForm: String, CaseIterable, Sendable {
    /// ``gram`` when N < D (or below the ratio the device's tuning file measured), else
    /// ``feature``, on the OpenCL backend. The reference backend, the
    /// ground truth, computes the definition (``feature``) unless told otherwise.
    case automatic = "auto"
    /// Through the N×N Gram matrices G = AAᵀ of the batch; never allocates a D×D buffer.
    case gram
    /// Through the D×D matrices of the definitions (C or K).
    case feature

    /// The form ``automatic`` stands for on a device, for views of `n` samples and `d` features:
    /// Gram while N < ratio · D, by default 1 (where it takes fewer flops), or the ratio a device
    /// measured (``TunedPaths/gramBelowRatio``).
    public static func preferred(n: Int, d: Int, gramBelowRatio ratio: Double = 1) -> RedundancyForm {
        Double(n) < ratio * Double(d) ? .gram : .feature
    }

    /// This form with ``automatic`` replaced by ``preferred(n:d:gramBelowRatio:)``.
    public func resolved(n: Int, d: Int, gramBelowRatio ratio: Double = 1) -> RedundancyForm {
        self == .automatic ? Self.preferred(n: n, d: d, gramBelowRatio: ratio) : self
    }
}
