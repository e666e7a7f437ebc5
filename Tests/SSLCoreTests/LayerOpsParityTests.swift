// The layers' OpenCL ops against the reference backend on odd shapes: channels 1, 3, 5, planes
// 1×1, 7×7 and 28×28, 1×1 and 3×3 kernels, strides 1 and 2, padding 0 and 1, several conv chunks.
import Foundation
import Testing
@testable import SSLCore

/// Both backends run one op on the same float32 inputs; accumulators start from the same
/// non-zero values, so an op that overwrote them instead of adding would fail.
private struct LayerParity {
    let cl: OpenCLBackend, ref = TestBackends.reference
    var rng: SeededRandom

    /// - Parameter columnReductions: ``KernelChoices/columnReductions``: nil for the device's
    ///   default, true or false to run that form of the (N, F) reductions on any device.
    init(seed: UInt64, columnReductions: Bool? = nil) {
        rng = SeededRandom(seed: seed)
        let device = TestBackends.openCL!
        cl = columnReductions == nil ? device
            : OpenCLBackend(context: device.context, kernels: KernelChoices(columnReductions: columnReductions))
    }

    /// The same values uploaded to both backends: (reference, OpenCL).
    mutating func pair(_ shape: [Int], scale: Float = 1, shift: Float = 0) throws -> (Tensor, Tensor) {
        let v = rng.uniform(shape.reduce(1, *), scale: scale).map { $0 + shift }
        return (try ref.upload(v, shape: shape), try cl.upload(v, shape: shape))
    }

    /// |cl − ref| ≤ atol · max(1, max|ref|) + rtol · |ref|.
    func expectClose(_ pair: (Tensor, Tensor), rtol: Double = 1e-4, atol: Double, _ what: String,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try ref.download(pair.0).map(Double.init)
        let scale = max(1, expected.map(abs).max() ?? 0)
        assertClose(try cl.download(pair.1), expected, shape: pair.1.shape, expectedShape: pair.0.shape, rtol: rtol,
                    atol: atol * scale, what, sourceLocation: sourceLocation)
    }
}

@Suite(.enabled(if: TestBackends.hasOpenCL)) struct LayerOpsParityTests {
    /// Element-wise ops differ only by float32 rounding of one operation (erf's ≤ 4 ulp for GELU).
    /// (N, F) shapes run the bias gradient both as a group per channel and by columns (eight a
    /// work-item, then one: F = 13 and 300 take both, F = 16 only the first, F = 1 only the second).
    @Test("bias, ReLU, GELU and global average pooling",
          arguments: [[1, 1, 1, 1], [3, 5, 7, 7], [2, 3, 1, 1], [7, 13], [9, 16], [4, 300], [3, 1]], [false, true])
    func elementwise(_ shape: [Int], columnReductions: Bool) throws {
        var p = LayerParity(seed: UInt64(shape.reduce(1) { $0 * 11 + $1 }), columnReductions: columnReductions)
        let x = try p.pair(shape, scale: 3), dY = try p.pair(shape), bias = try p.pair([shape[1]])
        try p.ref.addBias(bias.0, to: x.0)
        try p.cl.addBias(bias.1, to: x.1)
        try p.expectClose(x, atol: 1e-6, "addBias \(shape)")
        let dBias = try p.pair([shape[1]])
        try p.ref.biasBackward(dY.0, addingInto: dBias.0)
        try p.cl.biasBackward(dY.1, addingInto: dBias.1)
        // Sums of at most 49·3 values of |v| ≤ 1: float32 error ≤ 1e-5 relative to the count.
        try p.expectClose(dBias, atol: 1e-5, "biasBackward \(shape)")
        try p.expectClose((try p.ref.relu(x.0), try p.cl.relu(x.1)), atol: 0, "relu \(shape)")
        try p.expectClose((try p.ref.reluBackward(x.0, dY.0), try p.cl.reluBackward(x.1, dY.1)), atol: 0, "reluBackward")
        try p.expectClose((try p.ref.gelu(x.0), try p.cl.gelu(x.1)), atol: 1e-6, "gelu \(shape)")
        try p.expectClose((try p.ref.geluBackward(x.0, dY.0), try p.cl.geluBackward(x.1, dY.1)), atol: 1e-6, "geluBackward")
        guard shape.count == 4 else { return }
        try p.expectClose((try p.ref.globalAvgPool(x.0), try p.cl.globalAvgPool(x.1)), atol: 1e-6, "globalAvgPool")
        let dG = try p.pair([shape[0], shape[1]])
        try p.expectClose((try p.ref.globalAvgPoolBackward(dG.0, inputShape: shape),
                           try p.cl.globalAvgPoolBackward(dG.1, inputShape: shape)), atol: 1e-6, "globalAvgPoolBackward")
    }

    /// (N, Cin, H, W, Cout, k, stride, padding).
    static let convolutions: [[Int]] = [
        [2, 1, 1, 1, 3, 1, 1, 0], [3, 3, 7, 7, 5, 3, 1, 1], [2, 5, 7, 7, 3, 3, 2, 1], [2, 5, 7, 5, 3, 1, 2, 0],
        [2, 3, 1, 1, 5, 3, 1, 1], [2, 1, 28, 28, 3, 3, 1, 1], [1, 3, 28, 28, 5, 3, 2, 0],
    ]

    /// Outputs are sums of K = Cin·k² ≤ 45 products and dW sums of N·OH·OW ≤ 1568 products of
    /// values in [−1, 1]; float32 rounding, in CLBlast's order or the kernels', stays near
    /// √terms · 6e-8 of the largest |result|, well below the 2e-5 allowed.
    @Test("conv2d forward and backward", arguments: Oclgrind.cases(convolutions) { $0[0] * $0[1] * $0[2] * $0[3] * $0[4] })
    func convolution(_ s: [Int]) throws {
        var p = LayerParity(seed: UInt64(s.reduce(5) { $0 * 13 + $1 }))
        let (stride, padding) = (s[6], s[7])
        let x = try p.pair(Array(s[0..<4])), weight = try p.pair([s[4], s[1], s[5], s[5]])
        let y = (try p.ref.conv2d(x.0, weight: weight.0, stride: stride, padding: padding),
                 try p.cl.conv2d(x.1, weight: weight.1, stride: stride, padding: padding))
        try p.expectClose(y, atol: 2e-5, "conv2d y \(s)")
        let dY = try p.pair(y.0.shape), dW = try p.pair(weight.0.shape)
        let dX = (try p.ref.conv2dBackward(x.0, weight: weight.0, dY: dY.0, stride: stride, padding: padding, addingInto: dW.0),
                  try p.cl.conv2dBackward(x.1, weight: weight.1, dY: dY.1, stride: stride, padding: padding, addingInto: dW.1))
        try p.expectClose(dX, atol: 2e-5, "conv2d dX \(s)")
        try p.expectClose(dW, atol: 2e-5, "conv2d dW \(s)")
        let dWAlone = (try p.ref.zeros(weight.0.shape), try p.cl.zeros(weight.0.shape))
        try p.ref.conv2dWeightGradient(x.0, dY: dY.0, stride: stride, padding: padding, addingInto: dWAlone.0)
        try p.cl.conv2dWeightGradient(x.1, dY: dY.1, stride: stride, padding: padding, addingInto: dWAlone.1)
        try p.expectClose(dWAlone, atol: 2e-5, "conv2dWeightGradient \(s)")
    }

    @Test("conv2d over several image chunks, the last one short")
    func convolutionChunks() throws {
        var p = LayerParity(seed: 77)
        let x = try p.pair([5, 3, 7, 7]), weight = try p.pair([4, 3, 3, 3])
        let g = try Conv2dShape(input: x.0.shape, weight: weight.0.shape, stride: 2, padding: 1)
        // Two images' columns (27 × 16 each) per chunk: chunks of 2, 2 and 1 images.
        let budget = 2 * g.patchSize * g.outHeight * g.outWidth
        let y = (try p.ref.conv2d(x.0, weight: weight.0, stride: 2, padding: 1),
                 try p.cl.conv2dForward(x.1, weight: weight.1, g, columnBudget: budget))
        try p.expectClose(y, atol: 2e-5, "chunked conv2d y")
        let dY = try p.pair(y.0.shape), dW = try p.pair(weight.0.shape)
        let dX = (try p.ref.conv2dBackward(x.0, weight: weight.0, dY: dY.0, stride: 2, padding: 1, addingInto: dW.0),
                  try #require(try p.cl.conv2dBackward(x.1, weight: weight.1, dY: dY.1, g, dWeight: dW.1, columnBudget: budget)))
        try p.expectClose(dX, atol: 2e-5, "chunked conv2d dX")
        try p.expectClose(dW, atol: 2e-5, "chunked conv2d dW")
        let dWAlone = (try p.ref.zeros(weight.0.shape), try p.cl.zeros(weight.0.shape))
        try p.ref.conv2dWeightGradient(x.0, dY: dY.0, stride: 2, padding: 1, addingInto: dWAlone.0)
        #expect(try p.cl.conv2dBackward(x.1, weight: nil, dY: dY.1, g, dWeight: dWAlone.1, columnBudget: budget) == nil)
        try p.expectClose(dWAlone, atol: 2e-5, "chunked conv2d weight gradient alone")
    }

    /// (shape, affine, training): BatchNorm1d on (N, F) and BatchNorm2d on (N, C, H, W).
    static let batchNorms: [([Int], Bool, Bool)] = [
        ([2, 1], true, true), ([7, 13], true, true), ([5, 300], false, true), ([3, 5, 7, 7], true, true),
        ([2, 3, 1, 1], false, true), ([2, 1, 28, 28], true, true), ([3, 5, 7, 7], true, false), ([7, 13], false, false),
        ([9, 16], true, true), ([1, 9], true, false),
    ]

    /// x̂ has |x̂| ≲ 3 from float32 statistics over M ≤ 1568 values (relative errors ~1e-6); the
    /// backward's terms are scaled by γ·rstd·|dY| ≤ ~3, so 1e-5 of that scale bounds the rounding.
    /// (N, F) shapes run both forms of the reduction, as the bias gradient above.
    @Test("batch norm forward, running statistics and backward", arguments: Oclgrind.cases(batchNorms) { $0.0.reduce(1, *) }, [false, true])
    func batchNorm(_ s: ([Int], Bool, Bool), columnReductions: Bool) throws {
        let (shape, affine, training) = s
        var p = LayerParity(seed: UInt64(shape.reduce(9) { $0 * 7 + $1 }), columnReductions: columnReductions)
        let c = shape[1]
        let x = try p.pair(shape, scale: 2, shift: 0.5), dY = try p.pair(shape)
        let gamma = try p.pair([c], scale: 0.5, shift: 1), beta = try p.pair([c], scale: 0.5)
        let mean = try p.pair([c], scale: 0.2), variance = try p.pair([c], scale: 0.4, shift: 1)
        let r = try [(p.ref as any Backend, 0), (p.cl, 1)].map { backend, i in
            try backend.batchNormalization(
                i == 0 ? x.0 : x.1, gamma: affine ? (i == 0 ? gamma.0 : gamma.1) : nil, beta: affine ? (i == 0 ? beta.0 : beta.1) : nil,
                running: RunningStatistics(mean: i == 0 ? mean.0 : mean.1, variance: i == 0 ? variance.0 : variance.1),
                training: training, momentum: 0.1, eps: 1e-5)
        }
        try p.expectClose((r[0].y, r[1].y), atol: 1e-5, "y \(s)")
        try p.expectClose((r[0].normalized, r[1].normalized), atol: 1e-5, "x̂ \(s)")
        try p.expectClose((r[0].mean, r[1].mean), atol: 1e-5, "mean \(s)")
        try p.expectClose((r[0].rstd, r[1].rstd), atol: 1e-5, "rstd \(s)")
        try p.expectClose(mean, atol: 1e-5, "running mean \(s)")
        try p.expectClose(variance, atol: 1e-5, "running variance \(s)")
        let dGamma = try p.pair([c]), dBeta = try p.pair([c])
        let dX = try [(p.ref as any Backend, 0), (p.cl, 1)].map { backend, i in
            try backend.batchNormalizationBackward(
                i == 0 ? dY.0 : dY.1, normalized: r[i].normalized, rstd: r[i].rstd,
                gamma: affine ? (i == 0 ? gamma.0 : gamma.1) : nil, training: training,
                dGamma: affine ? (i == 0 ? dGamma.0 : dGamma.1) : nil, dBeta: affine ? (i == 0 ? dBeta.0 : dBeta.1) : nil)
        }
        try p.expectClose((dX[0], dX[1]), atol: 1e-5, "dX \(s)")
        // dγ, dβ: sums of M ≤ 1568 terms; relative to the largest sum.
        try p.expectClose(dGamma, atol: 2e-5, "dγ \(s)")
        try p.expectClose(dBeta, atol: 2e-5, "dβ \(s)")
    }

    /// (N, C, H, W, kernel, stride, padding).
    static let pools: [[Int]] = [
        [2, 3, 7, 7, 3, 2, 1], [1, 1, 1, 1, 1, 1, 0], [2, 5, 28, 28, 2, 2, 0], [1, 3, 7, 5, 3, 1, 1], [2, 1, 28, 28, 3, 2, 1],
        [3, 2, 9, 7, 2, 3, 1],  // windows apart (stride > kernel), padded: the disjoint backward
    ]

    /// Max pooling selects, so it matches exactly; averages divide sums of ≤ 9 values.
    @Test("max and average pooling forward and backward", arguments: Oclgrind.cases(pools) { $0[0] * $0[1] * $0[2] * $0[3] })
    func pooling(_ s: [Int]) throws {
        var p = LayerParity(seed: UInt64(s.reduce(2) { $0 * 19 + $1 }))
        let shape = Array(s[0..<4]), window = PoolWindow(kernel: s[4], stride: s[5], padding: s[6])
        let x = try p.pair(shape)
        let m = (try p.ref.maxPool2d(x.0, window: window), try p.cl.maxPool2d(x.1, window: window))
        try p.expectClose((m.0.y, m.1.y), atol: 0, "maxPool2d y \(s)")
        try p.expectClose((m.0.indices, m.1.indices), atol: 0, "maxPool2d indices \(s)")
        let dY = try p.pair(m.0.y.shape)
        try p.expectClose((try p.ref.maxPool2dBackward(dY.0, indices: m.0.indices, inputShape: shape, window: window),
                           try p.cl.maxPool2dBackward(dY.1, indices: m.1.indices, inputShape: shape, window: window)),
                          atol: 1e-6, "maxPool2dBackward \(s)")
        for include in [true, false] {
            try p.expectClose((try p.ref.avgPool2d(x.0, window: window, countIncludePad: include),
                               try p.cl.avgPool2d(x.1, window: window, countIncludePad: include)),
                              atol: 1e-6, "avgPool2d \(s) \(include)")
            try p.expectClose((try p.ref.avgPool2dBackward(dY.0, inputShape: shape, window: window, countIncludePad: include),
                               try p.cl.avgPool2dBackward(dY.1, inputShape: shape, window: window, countIncludePad: include)),
                              atol: 1e-6, "avgPool2dBackward \(s) \(include)")
        }
    }
}
