// Bad input to the layers' ops: the same SSLError on every backend, naming what was wrong; and
// NaN propagating rather than vanishing.
import Foundation
import Testing
@testable import SSLCore

/// Expects `body` to throw an SSLError whose description contains every one of `parts`.
private func expectLayerError(_ parts: [String], on backend: any Backend, sourceLocation: SourceLocation = #_sourceLocation,
                              _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected an error containing \(parts) on \(backend.name)", sourceLocation: sourceLocation)
    } catch let error as SSLError {
        for part in parts where !error.description.contains(part) {
            Issue.record("\(backend.name): '\(error)' does not mention '\(part)'", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("\(backend.name): not an SSLError: \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct LayerOpsErrorTests {
    @Test("convolution: ranks, channel mismatch, stride, padding, kernel larger than the input, dY and dW shapes")
    func convolution() throws {
        try forEachBackend { b in
            let x = try b.zeros([2, 3, 5, 5]), w = try b.zeros([4, 3, 3, 3])
            expectLayerError(["(2, 3, 5)", "(N, C, H, W)"], on: b) { _ = try b.conv2d(try b.zeros([2, 3, 5]), weight: w, stride: 1, padding: 0) }
            expectLayerError(["3 channels", "(4, 2, 3, 3)", "expects 2"], on: b) {
                _ = try b.conv2d(x, weight: try b.zeros([4, 2, 3, 3]), stride: 1, padding: 0)
            }
            expectLayerError(["stride", "0"], on: b) { _ = try b.conv2d(x, weight: w, stride: 0, padding: 0) }
            expectLayerError(["padding", "-1"], on: b) { _ = try b.conv2d(x, weight: w, stride: 1, padding: -1) }
            expectLayerError(["7×7", "5×5"], on: b) { _ = try b.conv2d(x, weight: try b.zeros([4, 3, 7, 7]), stride: 1, padding: 0) }
            expectLayerError(["dY", "(2, 4, 5, 5)"], on: b) {
                _ = try b.conv2dBackward(x, weight: w, dY: try b.zeros([2, 4, 3, 3]), stride: 1, padding: 1, addingInto: try b.zeros(w.shape))
            }
            expectLayerError(["dWeight", "(4, 3, 1, 1)"], on: b) {
                _ = try b.conv2dBackward(x, weight: w, dY: try b.zeros([2, 4, 3, 3]), stride: 1, padding: 0,
                                         addingInto: try b.zeros([4, 3, 1, 1]))
            }
        }
    }

    @Test("batch norm: per-channel shapes, affine pairs, one value per channel, evaluation without statistics")
    func batchNorm() throws {
        try forEachBackend { b in
            let x = try b.zeros([4, 3, 2, 2]), c3 = try b.zeros([3]), c2 = try b.zeros([2])
            let running = RunningStatistics(mean: try b.zeros([3]), variance: try b.zeros([3]))
            func forward(_ x: Tensor, gamma: Tensor? = nil, beta: Tensor? = nil, running: RunningStatistics? = nil,
                         training: Bool = true, momentum: Float = 0.1) throws {
                _ = try b.batchNormalization(x, gamma: gamma, beta: beta, running: running, training: training,
                                             momentum: momentum, eps: 1e-5)
            }
            expectLayerError(["gamma", "(2,)", "3 channels"], on: b) { try forward(x, gamma: c2, beta: c3) }
            expectLayerError(["gamma and beta"], on: b) { try forward(x, gamma: c3) }
            expectLayerError(["running variance", "(2,)"], on: b) {
                try forward(x, running: RunningStatistics(mean: c3, variance: c2))
            }
            expectLayerError(["more than 1 value per channel", "(1, 3)"], on: b) { try forward(try b.zeros([1, 3]), running: running) }
            expectLayerError(["evaluation", "running statistics"], on: b) { try forward(x, training: false) }
            expectLayerError(["momentum", "1.5"], on: b) { try forward(x, momentum: 1.5) }
            expectLayerError(["rank ≥ 2", "(3,)"], on: b) { try forward(c3) }
            let r = try b.batchNormalization(x, gamma: nil, beta: nil, running: nil, training: true, momentum: 0.1, eps: 1e-5)
            expectLayerError(["need the affine gamma"], on: b) {
                _ = try b.batchNormalizationBackward(x, normalized: r.normalized, rstd: r.rstd, gamma: nil, training: true,
                                                     dGamma: c3, dBeta: c3)
            }
            expectLayerError(["dY", "normalized"], on: b) {
                _ = try b.batchNormalizationBackward(try b.zeros([4, 3]), normalized: r.normalized, rstd: r.rstd, gamma: nil,
                                                     training: true, dGamma: nil, dBeta: nil)
            }
        }
    }

    @Test("pooling, bias and activations: windows, padding, shapes")
    func poolingAndBias() throws {
        try forEachBackend { b in
            let x = try b.zeros([2, 3, 5, 5])
            expectLayerError(["half the kernel"], on: b) { _ = try b.maxPool2d(x, window: PoolWindow(kernel: 2, padding: 2)) }
            expectLayerError(["kernel and stride"], on: b) { _ = try b.avgPool2d(x, window: PoolWindow(kernel: 0), countIncludePad: true) }
            expectLayerError(["larger than the input"], on: b) { _ = try b.maxPool2d(x, window: PoolWindow(kernel: 7)) }
            expectLayerError(["(2, 3, 5)"], on: b) { _ = try b.maxPool2d(try b.zeros([2, 3, 5]), window: PoolWindow(kernel: 2)) }
            expectLayerError(["dY", "(2, 3, 2, 2)"], on: b) {
                _ = try b.avgPool2dBackward(try b.zeros([2, 3, 3, 3]), inputShape: x.shape, window: PoolWindow(kernel: 2),
                                            countIncludePad: true)
            }
            expectLayerError(["indices", "dY"], on: b) {
                _ = try b.maxPool2dBackward(try b.zeros([2, 3, 2, 2]), indices: try b.zeros([2, 3, 2, 1]), inputShape: x.shape,
                                            window: PoolWindow(kernel: 2))
            }
            expectLayerError(["bias", "(4,)", "3 channels"], on: b) { try b.addBias(try b.zeros([4]), to: x) }
            expectLayerError(["dBias", "(2,)"], on: b) { try b.biasBackward(x, addingInto: try b.zeros([2])) }
            expectLayerError(["x", "dY"], on: b) { _ = try b.reluBackward(x, try b.zeros([2, 3, 5, 4])) }
            expectLayerError(["(N, C, H, W)"], on: b) { _ = try b.globalAvgPool(try b.zeros([2, 3])) }
            expectLayerError(["dY", "(2, 3)"], on: b) { _ = try b.globalAvgPoolBackward(try b.zeros([3, 2]), inputShape: x.shape) }
        }
    }

    @Test("NaN propagates through ReLU and max pooling on every backend")
    func nanPropagates() throws {
        try forEachBackend { backend in
            let x = try backend.upload([1, .nan, -2, 3], shape: [1, 1, 2, 2])
            #expect(try backend.download(try backend.relu(x))[1].isNaN, "\(backend.name)")
            #expect(try backend.download(try backend.maxPool2d(x, window: PoolWindow(kernel: 2)).y)[0].isNaN, "\(backend.name)")
        }
    }
}
