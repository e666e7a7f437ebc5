// The layers' hand-derived backwards (LayerReference, Double) against central finite differences
// of their forwards: bias, activations, convolution, batch norm (training and evaluation, with and
// without affine), max, average and global pooling.
import Foundation
import Testing
@testable import SSLCore

/// Central differences of f(x) = ⟨w, op(x)⟩ against the analytic gradient, through the shared
/// `checkGradient` (step 1e-5, tolerance 1e-6 · max(1, max|grad|)); piecewise-linear ops are
/// exact between their kinks, smooth ones have O(h²) ≈ 1e-10 truncation error.
@Suite struct LayerOpsGradientTests {
    @Test("bias and activations")
    func biasAndActivations() {
        var rng = SeededRandom(seed: 41)
        let (n, c, inner) = (3, 4, 5)
        let x = rng.doubles(n * c * inner, scale: 2), b = rng.doubles(c), w = rng.doubles(n * c * inner)
        checkGradient("addBias dBias", at: b, analytic: LayerReference.biasBackward(w, n: n, c: c, inner: inner)) {
            dot(w, LayerReference.addBias(x, bias: $0, n: n, c: c, inner: inner))
        }
        // ReLU's kink at 0: keep every input at least 0.1 away so that x ± h never crosses it.
        let away = x.map { $0 + ($0 < 0 ? -0.1 : 0.1) }
        checkGradient("relu", at: away, analytic: LayerReference.reluBackward(away, w)) { dot(w, LayerReference.relu($0)) }
        checkGradient("gelu", at: x, analytic: LayerReference.geluBackward(x, w)) { dot(w, LayerReference.gelu($0)) }
        #expect(LayerReference.reluBackward([0, -1, 2], [5, 5, 5]) == [0, 0, 5], "relu'(0) is 0, as PyTorch")
    }

    /// (N, Cin, H, W, Cout, kh, kw, stride, padding): 1×1 and 3×3, stride 1 and 2, padding 0 and 1,
    /// a rectangular kernel and a 1×1 image.
    static let convolutions: [[Int]] = [
        [2, 3, 5, 5, 2, 3, 3, 1, 1], [1, 2, 7, 6, 3, 3, 3, 2, 1], [2, 3, 5, 4, 2, 1, 1, 2, 0],
        [2, 2, 1, 1, 3, 3, 3, 1, 1], [1, 1, 6, 5, 2, 2, 3, 2, 0],
    ]

    @Test("conv2d: dX and dWeight", arguments: convolutions)
    func convolution(_ s: [Int]) throws {
        let g = try Conv2dShape(input: Array(s[0..<4]), weight: [s[4], s[1], s[5], s[6]], stride: s[7], padding: s[8])
        var rng = SeededRandom(seed: UInt64(s.reduce(7) { $0 * 31 + $1 }))
        let x = rng.doubles(g.inputShape.reduce(1, *)), weight = rng.doubles(g.weightShape.reduce(1, *))
        let w = rng.doubles(g.outputShape.reduce(1, *))
        let (dX, dW) = LayerReference.conv2dBackward(x, weight: weight, dY: w, g)
        checkGradient("conv2d dX \(s)", at: x, analytic: dX) { dot(w, LayerReference.conv2d($0, weight: weight, g)) }
        checkGradient("conv2d dW \(s)", at: weight, analytic: dW) { dot(w, LayerReference.conv2d(x, weight: $0, g)) }
        #expect(LayerReference.conv2dWeightGradient(x, dY: w, g) == dW, "the weight gradient alone \(s)")
    }

    /// (N, C, inner, affine, training): BatchNorm1d (inner 1) and BatchNorm2d (inner H·W).
    static let batchNorms: [(Int, Int, Int, Bool, Bool)] = [
        (5, 3, 1, true, true), (2, 3, 4, true, true), (3, 2, 6, false, true), (4, 3, 1, true, false), (2, 2, 3, false, false),
    ]

    @Test("batch norm: dX, dγ and dβ", arguments: batchNorms)
    func batchNorm(_ s: (Int, Int, Int, Bool, Bool)) {
        let (n, c, inner, affine, training) = s
        var rng = SeededRandom(seed: UInt64(n * 100 + c * 10 + inner))
        let count = n * c * inner
        let x = rng.doubles(count, scale: 2).enumerated().map { $0.element + Double($0.offset / inner % c) }
        let gamma = rng.doubles(c).map { $0 + 1.5 }, beta = rng.doubles(c)
        let running = (rng.doubles(c), rng.doubles(c).map { $0 + 1.5 })
        let w = rng.doubles(count)
        func f(_ x: [Double], _ gamma: [Double], _ beta: [Double]) -> Double {
            dot(w, LayerReference.batchNorm(x, n: n, c: c, inner: inner, gamma: affine ? gamma : nil,
                                            beta: affine ? beta : nil, running: running, training: training,
                                            momentum: 0.1, eps: 1e-5).y)
        }
        let r = LayerReference.batchNorm(x, n: n, c: c, inner: inner, gamma: affine ? gamma : nil, beta: affine ? beta : nil,
                                         running: running, training: training, momentum: 0.1, eps: 1e-5)
        let g = LayerReference.batchNormBackward(w, normalized: r.normalized, rstd: r.rstd, gamma: affine ? gamma : nil,
                                                 n: n, c: c, inner: inner, training: training)
        checkGradient("batch norm dX \(s)", at: x, analytic: g.dX) { f($0, gamma, beta) }
        if affine {
            checkGradient("batch norm dγ \(s)", at: gamma, analytic: g.dGamma) { f(x, $0, beta) }
            checkGradient("batch norm dβ \(s)", at: beta, analytic: g.dBeta) { f(x, gamma, $0) }
        }
    }

    /// (N, C, H, W, kernel, stride, padding): overlapping and disjoint windows, with and without padding.
    static let pools: [[Int]] = [[2, 2, 5, 5, 3, 2, 1], [1, 3, 4, 6, 2, 2, 0], [1, 2, 5, 4, 3, 1, 1], [2, 1, 1, 1, 1, 1, 0]]

    @Test("max, average and global pooling", arguments: pools)
    func pooling(_ s: [Int]) throws {
        let g = try Pool2dShape(input: Array(s[0..<4]), window: PoolWindow(kernel: s[4], stride: s[5], padding: s[6]),
                                op: "test")
        var rng = SeededRandom(seed: UInt64(s.reduce(3) { $0 * 17 + $1 }))
        // Uniform values are distinct with gaps ≫ the step, so no argmax changes within x ± h.
        let x = rng.doubles(g.inputShape.reduce(1, *)), w = rng.doubles(g.outputShape.reduce(1, *))
        let indices = LayerReference.maxPool2d(x, g).indices
        checkGradient("maxPool2d \(s)", at: x, analytic: LayerReference.maxPool2dBackward(w, indices: indices, g)) {
            dot(w, LayerReference.maxPool2d($0, g).y)
        }
        for include in [true, false] {
            checkGradient("avgPool2d \(s) countIncludePad \(include)", at: x,
                          analytic: LayerReference.avgPool2dBackward(w, g, countIncludePad: include)) {
                dot(w, LayerReference.avgPool2d($0, g, countIncludePad: include))
            }
        }
        let planes = s[0] * s[1], size = s[2] * s[3], wg = rng.doubles(planes)
        checkGradient("globalAvgPool \(s)", at: x, analytic: LayerReference.globalAvgPoolBackward(wg, planeSize: size)) {
            dot(wg, LayerReference.globalAvgPool($0, planes: planes, planeSize: size))
        }
    }

    @Test("pooling values: padding is −∞ for max and counts for average; first maximum wins ties")
    func poolingValues() throws {
        // One 2×2 plane, kernel 2, stride 1, padding 1: 3×3 windows over the zero/−∞ border.
        let g = try Pool2dShape(input: [1, 1, 2, 2], window: PoolWindow(kernel: 2, stride: 1, padding: 1), op: "test")
        let x: [Double] = [-1, -2, -3, -4]
        let max = LayerReference.maxPool2d(x, g)
        #expect(max.y == [-1, -1, -2, -1, -1, -2, -3, -3, -4])
        #expect(max.indices == [0, 0, 1, 0, 0, 1, 2, 2, 3])
        #expect(LayerReference.avgPool2d(x, g, countIncludePad: true) == [-0.25, -0.75, -0.5, -1, -2.5, -1.5, -0.75, -1.75, -1])
        #expect(LayerReference.avgPool2d(x, g, countIncludePad: false) == [-1, -1.5, -2, -2, -2.5, -3, -3, -3.5, -4])
        let whole = try Pool2dShape(input: [1, 1, 2, 2], window: PoolWindow(kernel: 2), op: "test")
        #expect(LayerReference.maxPool2d([5, 5, 5, 5], whole).indices == [0])
        #expect(LayerReference.maxPool2d([1, .nan, 2, 0], whole).y[0].isNaN)
    }

    @Test("running statistics: momentum 0.1 and the unbiased variance, as PyTorch")
    func runningStatistics() {
        // One channel, M = 4 values 1, 2, 3, 6: mean 3, biased variance 3.5, unbiased 14/3.
        let r = LayerReference.batchNorm([1, 2, 3, 6], n: 2, c: 1, inner: 2, gamma: nil, beta: nil,
                                         running: ([0], [1]), training: true, momentum: 0.1, eps: 0)
        #expect(abs(r.running!.mean[0] - 0.3) < 1e-12 && abs(r.running!.variance[0] - (0.9 + 0.1 * 14 / 3)) < 1e-12)
        #expect(abs(r.rstd[0] - 1 / 3.5.squareRoot()) < 1e-12)
        let eval = LayerReference.batchNorm([1, 2, 3, 6], n: 2, c: 1, inner: 2, gamma: [2], beta: [1],
                                            running: ([1], [4]), training: false, momentum: 0.1, eps: 0)
        #expect(eval.y == [1, 2, 3, 6] && eval.running!.mean == [1] && eval.running!.variance == [4])
    }
}
