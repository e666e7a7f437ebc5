// The measured choice between the forms of the ops that have several (fused kernels or GEMMs),
// kept per device in its tuning file beside CLBlast's parameters (GemmTuning.paths).

/// Which form of each op with several `ssl tune` measured fastest on a device (``PathTuner``).
/// An op left nil keeps the library's default: the form CLBlast's GEMMs back (NT-Xent's GEMMs,
/// GEMM + top-k kNN), the Gram form below N = D, Sinkhorn's one-group threshold estimate.
///
/// ```json
/// "paths": {"ntxent": "gemm", "gram_below_ratio": 1, "sinkhorn_one_group_max_elements": 8192,
///           "sinkhorn_passes": "one-pass", "knn": "unfused",
///           "measured": {"ntxent 512x128": {"gemm": 2.1, "fused": 7.9}, …}}
/// ```
public struct TunedPaths: Codable, Equatable, Sendable {
    /// NT-Xent wherever the 2N×2N similarities fit one buffer (beyond, only fused runs).
    public var ntXent: NTXentAlgorithm?
    /// Barlow Twins and VICReg take the Gram form while N < ratio · D.
    public var gramBelowRatio: Double?
    /// Sinkhorn runs as one work-group up to this B·K (and while its duals fit local memory).
    public var sinkhornOneGroupMaxElements: Int?
    /// Sinkhorn's version above that: one-pass or two-pass.
    public var sinkhornPasses: SinkhornVariant?
    /// kNN's similarity top-k.
    public var knn: KNNVariant?
    /// The timings behind the choices: "op shape" → form → milliseconds (best of the runs).
    public var measured: [String: [String: Double]]

    enum CodingKeys: String, CodingKey {
        case ntXent = "ntxent", gramBelowRatio = "gram_below_ratio"
        case sinkhornOneGroupMaxElements = "sinkhorn_one_group_max_elements", sinkhornPasses = "sinkhorn_passes"
        case knn, measured
    }

    public init(ntXent: NTXentAlgorithm? = nil, gramBelowRatio: Double? = nil, sinkhornOneGroupMaxElements: Int? = nil,
                sinkhornPasses: SinkhornVariant? = nil, knn: KNNVariant? = nil, measured: [String: [String: Double]] = [:]) {
        self.ntXent = ntXent
        self.gramBelowRatio = gramBelowRatio
        self.sinkhornOneGroupMaxElements = sinkhornOneGroupMaxElements
        self.sinkhornPasses = sinkhornPasses
        self.knn = knn
        self.measured = measured
    }

    /// Why these paths cannot be used, or nil: a choice that is no single form (auto, one-group
    /// as the version above the threshold), or a threshold that is no size.
    public var problem: String? {
        if ntXent == .automatic { return "ntxent must be gemm or fused, not auto" }
        if let r = gramBelowRatio, !(r.isFinite && r >= 0) { return "gram_below_ratio must be a finite number ≥ 0, got \(r)" }
        if let m = sinkhornOneGroupMaxElements, m < 0 { return "sinkhorn_one_group_max_elements must be ≥ 0, got \(m)" }
        if sinkhornPasses == .oneGroup { return "sinkhorn_passes must be one-pass or two-pass" }
        return nil
    }

    /// One line for `ssl devices` and a run's first lines.
    public var summary: String {
        var parts: [String] = []
        if let a = ntXent { parts.append("NT-Xent \(a.rawValue)") }
        if let r = gramBelowRatio { parts.append("Gram form while N < \(r)·D") }
        if let m = sinkhornOneGroupMaxElements { parts.append("Sinkhorn one-group up to B·K = \(m)") }
        if let v = sinkhornPasses { parts.append("then \(v.rawValue)") }
        if let k = knn { parts.append("kNN \(k.rawValue)") }
        return parts.isEmpty ? "none measured" : parts.joined(separator: ", ")
    }
}

extension NTXentAlgorithm: Codable {}
extension SinkhornVariant: Codable {}
extension KNNVariant: Codable {}
