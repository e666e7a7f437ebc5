// The operations every backend provides, with identical signatures and shape rules.

/// Which implementation a backend is.
public enum BackendKind: String, Sendable {
    /// Pure Swift on the CPU, accumulating in Double: the ground truth of the parity tests.
    case reference
    /// OpenCL kernels and CLBlast on an OpenCL device (a GPU, or PoCL on a CPU).
    case openCL = "opencl"
}

/// A place to compute: the CPU reference or one OpenCL device.
///
/// Both backends implement every op with the same signature and the same shape checks, so code
/// written against `Backend` runs on either and the two can be compared result for result.
///
/// Backends are `Sendable`: several tasks may use one at the same time. The reference backend
/// keeps no state; the OpenCL backend's context serialises what must be (``OpenCLContext``) and
/// runs every op on one in-order queue. What is shared is the tensors: see ``Tensor``.
/// Shapes in the docs are row-major: `(N, D)` is N rows of D features.
public protocol Backend: AnyObject, Sendable, LossOps, TrainingOps, PrimitiveOps {
    var kind: BackendKind { get }
    /// A human-readable description, e.g. "OpenCL: NVIDIA H100 [NVIDIA CUDA, opencl:0:0]".
    var name: String { get }

    // MARK: Data movement

    /// Copies host values into a new tensor of `shape` on this backend.
    func upload(_ values: [Float], shape: [Int]) throws -> Tensor
    /// Copies host values into an existing tensor of this backend, in place (restoring a checkpoint).
    func upload(_ values: [Float], into tensor: Tensor) throws
    /// A new tensor of zeros.
    func zeros(_ shape: [Int]) throws -> Tensor
    /// Copies a tensor's values to the host; waits for the work that produces them.
    func download(_ tensor: Tensor) throws -> [Float]
    /// Waits until every enqueued op has finished.
    func synchronize() throws

    // MARK: Ops

    /// General matrix multiply, in place: `c = alpha · op(a) · op(b) + beta · c`.
    ///
    /// - Parameters:
    ///   - a: `(M, K)`, or `(K, M)` when `transposeA`.
    ///   - b: `(K, N)`, or `(N, K)` when `transposeB`.
    ///   - transposeA: read `a` transposed.
    ///   - transposeB: read `b` transposed.
    ///   - alpha: the product's factor.
    ///   - beta: the factor of `c`'s old values.
    ///   - c: `(M, N)`; its storage is overwritten (shared by every copy of `c`).
    ///     With `beta == 0`, its old values are never read.
    func gemm(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool,
              alpha: Float, beta: Float, into c: Tensor) throws

    /// Each column standardised over the batch: batch normalisation in training mode without
    /// affine parameters or running statistics (Barlow Twins' and VICReg's `BatchNorm1d(affine=False)`).
    /// The layer op with γ, β and running statistics is ``LayerOps/batchNormalization(_:gamma:beta:running:training:momentum:eps:)``.
    ///
    /// `y = (x − mean) / sqrt(var + eps)` per feature, with the biased variance, as
    /// `torch.nn.BatchNorm1d(affine=False)` computes in training.
    /// - Parameters:
    ///   - x: `(N, D)`.
    ///   - eps: added to the variance, 1e-5 in PyTorch.
    /// - Returns: `y` `(N, D)`, `mean` `(D)`, `rstd` `(D)` = 1/sqrt(var + eps).
    func standardizeColumns(_ x: Tensor, eps: Float) throws -> BatchNormResult

    /// The Barlow Twins cross-correlation matrix `C = BN(z1)ᵀ BN(z2) / N`.
    /// - Parameters: z1, z2: `(N, D)`.
    /// - Returns: `(D, D)`.
    func crossCorrelation(_ z1: Tensor, _ z2: Tensor, eps: Float) throws -> Tensor

    /// SwAV's Sinkhorn-Knopp codes for scores `(B, K)`: an equipartition of B samples over K
    /// prototypes; each row of the result sums to 1. Stable for any `epsilon > 0`.
    /// - Returns: `(B, K)`.
    func sinkhorn(_ scores: Tensor, epsilon: Float, iterations: Int) throws -> Tensor

    /// Each row divided by `max(‖row‖₂, eps)`, as `torch.nn.functional.normalize`.
    func l2Normalize(_ x: Tensor, eps: Float) throws -> Tensor

    /// Softmax along the last axis.
    func softmax(_ x: Tensor) throws -> Tensor
    /// Log-softmax along the last axis.
    func logSoftmax(_ x: Tensor) throws -> Tensor

    /// The gradient of ``l2Normalize(_:eps:)``: for y = x / ‖x‖, dx = (dy − y·⟨y, dy⟩) / ‖x‖ per row;
    /// rows whose norm is below `eps` were divided by `eps`, so there dx = dy / eps.
    func l2NormalizeBackward(_ x: Tensor, _ dY: Tensor, eps: Float) throws -> Tensor

    /// Soft-target cross-entropy of scaled logits, averaged over rows, and its gradient:
    /// `L = −(1/N) Σ_n Σ_c t_nc · log_softmax(scale · x_n)_c`,
    /// `dL/dx_nc = scale · (softmax(scale · x_n)_c · Σ_c' t_nc' − t_nc) / N`.
    /// One-hot targets give the usual cross-entropy; `scale` is 1/temperature.
    /// - Parameters: logits, targets: `(N, C)`.
    func softCrossEntropy(_ logits: Tensor, targets: Tensor, scale: Float) throws -> CrossEntropyResult

    /// `y = alpha · x + beta · y`, in place (an EMA update is `axpby(online, 1 − m, m, into: target)`).
    /// With `beta` 0, as in BLAS, `y` is not read: its NaN or uninitialised values do not propagate.
    func axpby(_ x: Tensor, alpha: Float, beta: Float, into y: Tensor) throws

    /// A new tensor with the same shape and values.
    func copy(_ x: Tensor) throws -> Tensor

    /// A copy of the rows `range` of the first axis: `x[range]` of any rank (one view of a batch of views).
    func rows(_ x: Tensor, _ range: Range<Int>) throws -> Tensor

    /// The tensors one after another along the first axis (`torch.cat(parts, 0)`): all views of a
    /// batch as one batch, whose batch norm then sees them together. The inverse of ``rows(_:_:)``.
    /// - Parameter parts: at least one tensor; equal shapes beyond the first axis.
    func concatenateRows(_ parts: [Tensor]) throws -> Tensor

    /// Sets every element of `tensor` to `value`, in place.
    func fill(_ tensor: Tensor, with value: Float) throws

    /// Sum along `axis`; the axis is removed from the shape.
    func sum(_ x: Tensor, axis: Int) throws -> Tensor
    /// Mean along `axis`; the axis is removed from the shape.
    func mean(_ x: Tensor, axis: Int) throws -> Tensor
}

/// What ``Backend/softCrossEntropy(_:targets:scale:)`` returns.
public struct CrossEntropyResult {
    /// The mean loss, a scalar (shape `[]`).
    public let loss: Tensor
    /// `(N, C)`.
    public let dLogits: Tensor
}

/// What ``Backend/standardizeColumns(_:eps:)`` returns: the output and the statistics a backward pass rereads.
public struct BatchNormResult {
    public let y: Tensor
    public let mean: Tensor
    public let rstd: Tensor
}

extension Backend {
    /// Whether this backend runs on an OpenCL GPU (larger default configurations).
    public var isGPU: Bool { (self as? OpenCLBackend)?.device.kind == .gpu }

    /// `alpha · op(a) · op(b)` as a new tensor.
    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
                       alpha: Float = 1) throws -> Tensor {
        let shape = try Shapes.gemm(a.shape, b.shape, transposeA: transposeA, transposeB: transposeB)
        let c = try zeros([shape.m, shape.n])
        try gemm(a, b, transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: 0, into: c)
        return c
    }

    /// A tensor's values and shape on the host.
    public func host(_ tensor: Tensor) throws -> (values: [Float], shape: [Int]) {
        (try download(tensor), tensor.shape)
    }
}

extension Backend {
    /// The former name of ``standardizeColumns(_:eps:)``, too close to the layer op
    /// `batchNormalization`.
    @available(*, deprecated, renamed: "standardizeColumns(_:eps:)")
    public func batchNorm(_ x: Tensor, eps: Float) throws -> BatchNormResult { try standardizeColumns(x, eps: eps) }
}
