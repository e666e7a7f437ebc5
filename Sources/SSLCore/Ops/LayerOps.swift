// The device ops of the layers (bias, activations, convolution, batch normalisation, pooling):
// the backend protocol, its result and geometry types. The shape rules are in LayerShapes.swift,
// the Double reference in LayerReference*.swift.

/// Forward and backward passes of the layers of SSLTrain, on the device.
///
/// Images are `(N, C, H, W)` row-major (NCHW), features `(N, F)`. Every backward is explicit
/// (llm.c style): it rereads what its forward returned, returns the input gradient as a new
/// tensor and **adds** parameter gradients into the accumulators it is given, so gradients of
/// several forward passes (two views through one encoder) sum up.
///
/// ```swift
/// let y = try backend.conv2d(x, weight: w, stride: 1, padding: 1)          // (N, Cout, H, W)
/// let dX = try backend.conv2dBackward(x, weight: w, dY: dY, stride: 1, padding: 1,
///                                     addingInto: dW)                      // dW += ∂L/∂w
/// ```
public protocol LayerOps {
    // MARK: Bias

    /// `x[n, c, …] += bias[c]`, in place: a bias over the rows of `(N, F)` or the channels of
    /// `(N, C, H, W)`.
    /// - Parameters:
    ///   - bias: `(C)`, with C = `x.shape[1]`.
    ///   - x: `(N, C, …)`, rank ≥ 2; its storage is overwritten.
    func addBias(_ bias: Tensor, to x: Tensor) throws

    /// The gradient of ``addBias(_:to:)``: `dBias[c] += Σ_{n,…} dY[n, c, …]` (column sums of
    /// `(N, F)`, per-channel sums of `(N, C, H, W)`), in place.
    func biasBackward(_ dY: Tensor, addingInto dBias: Tensor) throws

    // MARK: Activations

    /// `max(x, 0)` element-wise, as `torch.relu`.
    func relu(_ x: Tensor) throws -> Tensor
    /// `dY · [x > 0]`, the gradient of ``relu(_:)`` (0 at x = 0, as PyTorch).
    func reluBackward(_ x: Tensor, _ dY: Tensor) throws -> Tensor
    /// The exact GELU `x · Φ(x) = x/2 · (1 + erf(x/√2))`, `torch.nn.GELU()`'s default (DINO's head).
    func gelu(_ x: Tensor) throws -> Tensor
    /// `dY · (Φ(x) + x · φ(x))`, the gradient of ``gelu(_:)``; φ is the standard normal density.
    func geluBackward(_ x: Tensor, _ dY: Tensor) throws -> Tensor

    // MARK: Convolution

    /// 2-D cross-correlation without bias, as `torch.nn.functional.conv2d` (no dilation, one group):
    /// `y[n, o, i, j] = Σ_{c,p,q} w[o, c, p, q] · x[n, c, i·s − pad + p, j·s − pad + q]`, zero outside.
    /// - Parameters:
    ///   - x: `(N, Cin, H, W)`.
    ///   - weight: `(Cout, Cin, kh, kw)`.
    ///   - stride: s ≥ 1 along both axes.
    ///   - padding: zeros added on each side of both axes, ≥ 0.
    /// - Returns: `(N, Cout, OH, OW)`, `OH = ⌊(H + 2·pad − kh)/s⌋ + 1` (see ``Conv2dShape``).
    func conv2d(_ x: Tensor, weight: Tensor, stride: Int, padding: Int) throws -> Tensor

    /// The gradients of ``conv2d(_:weight:stride:padding:)``: returns `dX` `(N, Cin, H, W)` and adds
    /// `∂L/∂w` into `dWeight` `(Cout, Cin, kh, kw)`.
    func conv2dBackward(_ x: Tensor, weight: Tensor, dY: Tensor, stride: Int, padding: Int,
                        addingInto dWeight: Tensor) throws -> Tensor

    /// The weight gradient of ``conv2d(_:weight:stride:padding:)`` alone: adds `∂L/∂w` into
    /// `dWeight` `(Cout, Cin, kh, kw)`, as ``conv2dBackward(_:weight:dY:stride:padding:addingInto:)``
    /// does, without computing `dX`: for a network's first convolution, whose input is the data.
    func conv2dWeightGradient(_ x: Tensor, dY: Tensor, stride: Int, padding: Int, addingInto dWeight: Tensor) throws

    // MARK: Batch normalisation

    /// Batch normalisation per channel of `(N, C, …)` (BatchNorm1d on `(N, F)`, BatchNorm2d on
    /// `(N, C, H, W)`), as `torch.nn.functional.batch_norm`:
    ///
    ///     x̂ = (x − μ_c) · rstd_c,  rstd_c = 1/√(σ²_c + eps),  y = γ_c · x̂ + β_c
    ///
    /// In training, μ and σ² are the batch statistics over the M = N·H·W values of each channel,
    /// σ² biased; the running statistics (if given) become `(1 − m) · running + m · batch` with
    /// the *unbiased* variance σ² · M/(M − 1), as PyTorch stores it. In evaluation μ and σ² are
    /// the running statistics, which are left unchanged.
    /// - Parameters:
    ///   - x: `(N, C, …)`, rank ≥ 2.
    ///   - gamma: γ `(C)`, or nil for `affine=False` (then `beta` is nil too).
    ///   - beta: β `(C)`, or nil for `affine=False`.
    ///   - running: the running mean and variance `(C)`, updated in place in training; required
    ///     in evaluation. PyTorch initialises them to 0 and 1.
    ///   - training: batch statistics (true) or running statistics (false).
    ///   - momentum: m in [0, 1]; PyTorch's default is ``BatchNormDefaults/momentum`` (0.1).
    ///   - eps: ≥ 0; PyTorch's default is ``BatchNormDefaults/eps`` (1e-5).
    /// - Throws: when shapes disagree, or in training with running statistics and M < 2
    ///   (the unbiased variance needs two values, PyTorch's "Expected more than 1 value per channel").
    func batchNormalization(_ x: Tensor, gamma: Tensor?, beta: Tensor?, running: RunningStatistics?,
                            training: Bool, momentum: Float, eps: Float) throws -> BatchNormalizationResult

    /// The gradients of ``batchNormalization(_:gamma:beta:running:training:momentum:eps:)``:
    ///
    ///     dβ_c += Σ dy,   dγ_c += Σ dy · x̂
    ///     training:   dx = γ_c · rstd_c · (dy − mean_c(dy) − x̂ · mean_c(dy · x̂))
    ///     evaluation: dx = γ_c · rstd_c · dy                   (the statistics are constants)
    ///
    /// The two means are the gradients through the batch mean and the batch variance.
    /// - Parameters:
    ///   - dY: `(N, C, …)`, the shape of the forward input.
    ///   - normalized: x̂ of the forward result.
    ///   - rstd: rstd of the forward result.
    ///   - gamma: the forward's γ, nil without affine (γ = 1).
    ///   - training: the forward's mode.
    ///   - dGamma: the `(C)` accumulator of dγ; needs `gamma`, and `dBeta` given too.
    ///   - dBeta: the `(C)` accumulator of dβ; nil exactly when `dGamma` is.
    /// - Returns: dX, `(N, C, …)`.
    func batchNormalizationBackward(_ dY: Tensor, normalized: Tensor, rstd: Tensor, gamma: Tensor?,
                                    training: Bool, dGamma: Tensor?, dBeta: Tensor?) throws -> Tensor

    // MARK: Batch normalisation over a batch split across ranks (SyncBN)

    /// The statistics of this rank's part of a batch, per channel of `(N, C, …)`: the count
    /// M_r = N·H·W, the mean and the sum of squared deviations about that mean,
    ///
    ///     mean_c = (1/M_r) Σ x,   M2_c = Σ (x − mean_c)²
    ///
    /// (two passes, no Σx² − M·mean²). The ranks' moments combine into the global ones by
    /// Chan's parallel formula; ``batchNormalization(_:gamma:beta:mean:rstd:)`` then normalises
    /// with them. One value per channel (M_r = 1) is allowed: the group may hold more.
    /// - Parameter x: `(N, C, …)`, rank ≥ 2.
    func batchNormalizationMoments(_ x: Tensor) throws -> BatchNormalizationMoments

    /// Batch normalisation with given statistics (the global ones of a synchronised batch norm):
    ///
    ///     x̂ = (x − mean_c) · rstd_c,   y = γ_c · x̂ + β_c
    ///
    /// Running statistics are the caller's: they need the global count and variance.
    /// - Parameters:
    ///   - x: `(N, C, …)`, rank ≥ 2.
    ///   - gamma: γ `(C)`, or nil for `affine=False` (then `beta` is nil too).
    ///   - beta: β `(C)`, or nil for `affine=False`.
    ///   - mean: the batch mean `(C)`.
    ///   - rstd: `(C)`, 1/√(σ² + eps).
    /// - Returns: y, x̂ and the given `mean` and `rstd`, for
    ///   ``batchNormalizationBackward(_:normalized:rstd:gamma:sums:count:)``.
    func batchNormalization(_ x: Tensor, gamma: Tensor?, beta: Tensor?, mean: Tensor, rstd: Tensor) throws
        -> BatchNormalizationResult

    /// This rank's part of the two sums the batch-norm backward needs, per channel:
    ///
    ///     Σ dy   (= dβ_c),   Σ dy · x̂   (= dγ_c)
    ///
    /// - Parameters:
    ///   - dY: `(N, C, …)`.
    ///   - normalized: x̂ `(N, C, …)` as the forward returned it.
    func batchNormalizationBackwardSums(_ dY: Tensor, normalized: Tensor) throws -> BatchNormalizationSums

    /// The batch-norm input gradient from the sums over the whole (synchronised) batch:
    ///
    ///     dx = γ_c · rstd_c · (dy − Σdy/M − x̂ · Σ(dy·x̂)/M)
    ///
    /// the training backward of ``batchNormalizationBackward(_:normalized:rstd:gamma:training:dGamma:dBeta:)``
    /// with the means over all M values of the group. It adds nothing into dγ and dβ.
    /// - Parameters:
    ///   - dY: `(N, C, …)`.
    ///   - normalized: x̂ `(N, C, …)` of the forward.
    ///   - rstd: `(C)`, of the forward.
    ///   - gamma: the forward's γ `(C)`, nil without affine (γ = 1).
    ///   - sums: Σ dy and Σ dy·x̂ `(C)` over the group.
    ///   - count: M, the values per channel in the group, at least this rank's N·H·W.
    /// - Returns: dX, `(N, C, …)`.
    func batchNormalizationBackward(_ dY: Tensor, normalized: Tensor, rstd: Tensor, gamma: Tensor?,
                                    sums: BatchNormalizationSums, count: Int) throws -> Tensor

    // MARK: Pooling

    /// Max pooling, as `torch.nn.functional.max_pool2d(..., return_indices=True)` (no dilation,
    /// floor mode): padding counts as −∞, ties keep the first maximum in row-major window order,
    /// NaN propagates.
    /// - Parameters:
    ///   - x: `(N, C, H, W)`.
    ///   - window: the kernel, stride and padding.
    /// - Returns: `y` `(N, C, OH, OW)` and, per output, the argmax's index `h · W + w` in its input
    ///   plane, stored as an exact integer in float (H·W ≤ 2²⁴ is required).
    func maxPool2d(_ x: Tensor, window: PoolWindow) throws -> MaxPoolResult

    /// The gradient of ``maxPool2d(_:window:)``: each output's dY goes to its argmax.
    /// - Parameters:
    ///   - dY: `(N, C, OH, OW)`.
    ///   - indices: `(N, C, OH, OW)`, as ``maxPool2d(_:window:)`` returned them (the reference
    ///     checks them, the device trusts them).
    ///   - inputShape: the forward input's `(N, C, H, W)`.
    ///   - window: the forward's.
    func maxPool2dBackward(_ dY: Tensor, indices: Tensor, inputShape: [Int], window: PoolWindow) throws -> Tensor

    /// Average pooling, as `torch.nn.functional.avg_pool2d` (floor mode). With
    /// `countIncludePad` (PyTorch's default) the divisor is kernel², else the number of input
    /// values in the window.
    /// - Parameters:
    ///   - x: `(N, C, H, W)`.
    ///   - window: the kernel, stride and padding.
    ///   - countIncludePad: whether padded positions count in the divisor.
    /// - Returns: `(N, C, OH, OW)`.
    func avgPool2d(_ x: Tensor, window: PoolWindow, countIncludePad: Bool) throws -> Tensor

    /// The gradient of ``avgPool2d(_:window:countIncludePad:)``: dY / divisor spread over each window.
    func avgPool2dBackward(_ dY: Tensor, inputShape: [Int], window: PoolWindow, countIncludePad: Bool) throws -> Tensor

    /// Global average pooling: `(N, C, H, W)` → `(N, C)`, the mean over each plane
    /// (`adaptive_avg_pool2d(x, 1).flatten(1)`, the ResNet head).
    func globalAvgPool(_ x: Tensor) throws -> Tensor
    /// The gradient of ``globalAvgPool(_:)``: `dX[n, c, h, w] = dY[n, c] / (H·W)`.
    func globalAvgPoolBackward(_ dY: Tensor, inputShape: [Int]) throws -> Tensor
}

/// PyTorch's `BatchNorm1d`/`BatchNorm2d` defaults (torch.nn.modules.batchnorm).
public enum BatchNormDefaults {
    /// Added to the variance before the square root.
    public static let eps: Float = 1e-5
    /// The weight of the batch statistics in the running statistics' update.
    public static let momentum: Float = 0.1
}

/// The running mean and variance of a batch-norm layer, `(C)` each; updated in place.
public struct RunningStatistics {
    /// `running_mean`, `(C)`; PyTorch starts it at 0.
    public let mean: Tensor
    /// `running_var`, the unbiased variance, `(C)`; PyTorch starts it at 1.
    public let variance: Tensor

    public init(mean: Tensor, variance: Tensor) {
        self.mean = mean
        self.variance = variance
    }
}

/// What ``LayerOps/batchNormalization(_:gamma:beta:running:training:momentum:eps:)`` returns:
/// the output and what the backward rereads.
public struct BatchNormalizationResult {
    /// `γ · x̂ + β`, `(N, C, …)`; the same tensor as ``normalized`` without affine.
    public let y: Tensor
    /// x̂ = (x − μ) · rstd, `(N, C, …)`.
    public let normalized: Tensor
    /// The μ used, `(C)`: the batch mean in training, the running mean in evaluation.
    public let mean: Tensor
    /// 1/√(σ² + eps) of the σ² used, `(C)`.
    public let rstd: Tensor
}

/// What ``LayerOps/batchNormalizationMoments(_:)`` returns: one rank's statistics per channel.
public struct BatchNormalizationMoments {
    /// M_r = N·H·W, the values per channel.
    public let count: Int
    /// `(C)`: the mean of each channel's values.
    public let mean: Tensor
    /// `(C)`: Σ (x − mean)², about the ``mean`` stored (M_r times the biased variance).
    public let m2: Tensor

    public init(count: Int, mean: Tensor, m2: Tensor) {
        (self.count, self.mean, self.m2) = (count, mean, m2)
    }
}

/// The per-channel sums of the batch-norm backward: one rank's
/// (``LayerOps/batchNormalizationBackwardSums(_:normalized:)``) or the group's.
public struct BatchNormalizationSums {
    /// Σ dy, `(C)`: dβ.
    public let dY: Tensor
    /// Σ dy · x̂, `(C)`: dγ.
    public let dYNormalized: Tensor

    public init(dY: Tensor, dYNormalized: Tensor) {
        (self.dY, self.dYNormalized) = (dY, dYNormalized)
    }
}

/// What ``LayerOps/maxPool2d(_:window:)`` returns.
public struct MaxPoolResult {
    /// `(N, C, OH, OW)`.
    public let y: Tensor
    /// `(N, C, OH, OW)`: the argmax's index `h · W + w` within its input plane, an integer in float.
    public let indices: Tensor
}

/// A square pooling window: kernel k, stride s, padding p on both axes (no dilation, floor mode).
public struct PoolWindow: Equatable, CustomStringConvertible {
    /// The window's side k.
    public let kernel: Int
    /// The step s between windows.
    public let stride: Int
    /// The padding p on each side (−∞ for max pooling, zeros for average pooling).
    public let padding: Int

    /// - Parameters:
    ///   - kernel: k ≥ 1.
    ///   - stride: s ≥ 1; nil means k, `torch.nn.MaxPool2d`'s and `AvgPool2d`'s default.
    ///   - padding: 0 ≤ p ≤ k/2 (PyTorch's bound), 0 by default.
    public init(kernel: Int, stride: Int? = nil, padding: Int = 0) {
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
    }

    public var description: String { "kernel \(kernel), stride \(stride), padding \(padding)" }
}

/// The geometry of a convolution, checked: input `(N, Cin, H, W)`, weight `(Cout, Cin, kh, kw)`,
/// output `(N, Cout, OH, OW)` with `OH = ⌊(H + 2·pad − kh)/s⌋ + 1`, `OW` likewise.
public struct Conv2dShape: Equatable {
    /// The input `(N, Cin, H, W)`.
    public let n: Int, inChannels: Int, height: Int, width: Int
    /// The weight's `Cout`, `kh`, `kw`.
    public let outChannels: Int, kernelHeight: Int, kernelWidth: Int
    /// The same on both axes.
    public let stride: Int, padding: Int
    /// The output's `OH`, `OW`.
    public let outHeight: Int, outWidth: Int

    /// Checks the shapes and the stride and padding.
    /// - Throws: ``SSLError/shapeMismatch(op:detail:)`` naming both shapes when they disagree or the
    ///   kernel is larger than the padded input; ``SSLError/invalidArgument(op:detail:)`` for a
    ///   stride < 1 or a padding < 0.
    public init(input: [Int], weight: [Int], stride: Int, padding: Int, op: String = "conv2d") throws {
        guard input.count == 4, input.allSatisfy({ $0 > 0 }) else {
            throw SSLError.shapeMismatch(op: op, detail: "x must be a non-empty (N, C, H, W) tensor, got \(shapeText(input))")
        }
        guard weight.count == 4, weight.allSatisfy({ $0 > 0 }) else {
            throw SSLError.shapeMismatch(
                op: op, detail: "weight must be a non-empty (Cout, Cin, kh, kw) tensor, got \(shapeText(weight))")
        }
        guard input[1] == weight[1] else {
            throw SSLError.shapeMismatch(op: op, detail: "x \(shapeText(input)) has \(input[1]) channels but weight "
                                         + "\(shapeText(weight)) expects \(weight[1])")
        }
        guard stride >= 1 else { throw SSLError.invalidArgument(op: op, detail: "stride must be at least 1, got \(stride)") }
        guard padding >= 0 else { throw SSLError.invalidArgument(op: op, detail: "padding must be ≥ 0, got \(padding)") }
        guard input[2] + 2 * padding >= weight[2], input[3] + 2 * padding >= weight[3] else {
            throw SSLError.shapeMismatch(op: op, detail: "kernel \(weight[2])×\(weight[3]) is larger than the input "
                                         + "\(input[2])×\(input[3]) padded by \(padding)")
        }
        (n, inChannels, height, width) = (input[0], input[1], input[2], input[3])
        (outChannels, kernelHeight, kernelWidth) = (weight[0], weight[2], weight[3])
        (self.stride, self.padding) = (stride, padding)
        outHeight = (height + 2 * padding - kernelHeight) / stride + 1
        outWidth = (width + 2 * padding - kernelWidth) / stride + 1
    }

    public var inputShape: [Int] { [n, inChannels, height, width] }
    public var weightShape: [Int] { [outChannels, inChannels, kernelHeight, kernelWidth] }
    public var outputShape: [Int] { [n, outChannels, outHeight, outWidth] }
    /// Rows of the im2col matrix: Cin · kh · kw, the GEMM's K.
    public var patchSize: Int { inChannels * kernelHeight * kernelWidth }
}

/// The geometry of a pooling op, checked: input `(N, C, H, W)`, output `(N, C, OH, OW)` with
/// `OH = ⌊(H + 2·p − k)/s⌋ + 1`.
public struct Pool2dShape: Equatable {
    /// The input `(N, C, H, W)`.
    public let n: Int, channels: Int, height: Int, width: Int
    public let window: PoolWindow
    /// The output's `OH`, `OW`.
    public let outHeight: Int, outWidth: Int

    /// - Throws: for a non-4-D or empty input, a kernel < 1, a stride < 1, a padding outside
    ///   [0, k/2] (PyTorch: "pad should be at most half of effective kernel size"), a window larger
    ///   than the padded input, or a plane of more than 2²⁴ values (the float indices of max pooling).
    public init(input: [Int], window: PoolWindow, op: String) throws {
        guard input.count == 4, input.allSatisfy({ $0 > 0 }) else {
            throw SSLError.shapeMismatch(op: op, detail: "x must be a non-empty (N, C, H, W) tensor, got \(shapeText(input))")
        }
        guard window.kernel >= 1, window.stride >= 1 else {
            throw SSLError.invalidArgument(op: op, detail: "kernel and stride must be at least 1 (\(window))")
        }
        guard window.padding >= 0, 2 * window.padding <= window.kernel else {
            throw SSLError.invalidArgument(op: op, detail: "padding must be between 0 and half the kernel (\(window))")
        }
        guard input[2] + 2 * window.padding >= window.kernel, input[3] + 2 * window.padding >= window.kernel else {
            throw SSLError.shapeMismatch(op: op, detail: "window (\(window)) is larger than the input \(input[2])×\(input[3])")
        }
        guard input[2] * input[3] <= 1 << 24 else {
            throw SSLError.invalidArgument(op: op, detail: "planes of \(input[2])×\(input[3]) exceed the 2^24 values "
                                           + "whose indices float stores exactly")
        }
        (n, channels, height, width) = (input[0], input[1], input[2], input[3])
        self.window = window
        outHeight = (height + 2 * window.padding - window.kernel) / window.stride + 1
        outWidth = (width + 2 * window.padding - window.kernel) / window.stride + 1
    }

    public var inputShape: [Int] { [n, channels, height, width] }
    public var outputShape: [Int] { [n, channels, outHeight, outWidth] }

    /// The rows (or columns) of the input that output row (column) `o` covers, clipped to the input.
    func span(_ o: Int, size: Int) -> Range<Int> {
        let start = o * window.stride - window.padding
        return max(start, 0)..<min(start + window.kernel, size)
    }

    /// The output rows (columns) whose window covers input row (column) `i`: those o with
    /// o·s − p ≤ i ≤ o·s − p + k − 1.
    func covering(_ i: Int, outSize: Int) -> ClosedRange<Int>? {
        let s = window.stride, shifted = i + window.padding
        let first = max(0, (shifted - window.kernel + s) / s), last = min(outSize - 1, shifted / s)
        return first <= last ? first...last : nil
    }

    /// The divisor of average pooling at output (oy, ox).
    func divisor(_ oy: Int, _ ox: Int, countIncludePad: Bool) -> Int {
        countIncludePad ? window.kernel * window.kernel : span(oy, size: height).count * span(ox, size: width).count
    }
}
