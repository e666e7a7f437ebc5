// Conv2d, BatchNorm2d and MaxPool2d forward and backward against PyTorch's own modules and
// autograd (Tests/Fixtures/layers/layers.py), on every backend.
import Foundation
import Testing
@testable import SSLCore

/// One fixture case `layers/<case>_<item>.npy`.
private struct LayerFixture {
    let tag: String

    func input(_ item: String, on backend: any Backend) throws -> Tensor {
        let a = try Fixtures.floats("layers/\(tag)_\(item)")
        return try backend.upload(a.values, shape: a.shape)
    }

    func integers(_ item: String) throws -> [Int] {
        try NumPy.read(Fixtures.path("layers/\(tag)_\(item)")).integers().map { Int($0) }
    }

    func has(_ item: String) -> Bool { FileManager.default.fileExists(atPath: Fixtures.path("layers/\(tag)_\(item)")) }

    /// Float32 results against PyTorch's float64 ones: the 1e-4, absolute and relative.
    func expect(_ tensor: Tensor, on backend: any Backend, equals item: String,
                sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try Fixtures.doubles("layers/\(tag)_\(item)")
        assertClose(try backend.download(tensor), expected.values, shape: tensor.shape, expectedShape: expected.shape,
                    rtol: 1e-4, atol: 1e-4, "\(tag) \(item) on \(backend.name)", sourceLocation: sourceLocation)
    }
}

@Suite struct LayerOpsFixtureTests {
    @Test("conv2d matches torch.nn.Conv2d", arguments: ["conv_c3k3s2p1", "conv_c1k3s1p1", "conv_c4k1s2p0"])
    func convolution(_ tag: String) throws {
        let f = LayerFixture(tag: tag)
        let geometry = try f.integers("geometry")
        try forEachBackend { backend in
            let x = try f.input("x", on: backend), weight = try f.input("weight", on: backend)
            let y = try backend.conv2d(x, weight: weight, stride: geometry[0], padding: geometry[1])
            let dBias = try backend.zeros([weight.shape[0]])
            if f.has("bias") {
                try backend.addBias(try f.input("bias", on: backend), to: y)
            }
            try f.expect(y, on: backend, equals: "y")
            let dY = try f.input("dy", on: backend), dW = try backend.zeros(weight.shape)
            let dX = try backend.conv2dBackward(x, weight: weight, dY: dY, stride: geometry[0], padding: geometry[1],
                                                addingInto: dW)
            try f.expect(dX, on: backend, equals: "dx")
            try f.expect(dW, on: backend, equals: "dweight")
            if f.has("bias") {
                try backend.biasBackward(dY, addingInto: dBias)
                try f.expect(dBias, on: backend, equals: "dbias")
            }
        }
    }

    @Test("batch norm matches torch.nn.BatchNorm2d in training and evaluation", arguments: ["bn2d_n3c4h5w5", "bn2d_n2c3h1w1"])
    func batchNorm(_ tag: String) throws {
        let f = LayerFixture(tag: tag)
        try forEachBackend { backend in
            let x = try f.input("x", on: backend), dY = try f.input("dy", on: backend)
            let gamma = try f.input("gamma", on: backend), beta = try f.input("beta", on: backend)
            let running = RunningStatistics(mean: try f.input("running_mean", on: backend),
                                            variance: try f.input("running_var", on: backend))
            let dGamma = try backend.zeros(gamma.shape), dBeta = try backend.zeros(beta.shape)
            let train = try backend.batchNormalization(x, gamma: gamma, beta: beta, running: running, training: true,
                                                       momentum: BatchNormDefaults.momentum, eps: BatchNormDefaults.eps)
            try f.expect(train.y, on: backend, equals: "train_y")
            try f.expect(running.mean, on: backend, equals: "running_mean_after")
            try f.expect(running.variance, on: backend, equals: "running_var_after")
            let dX = try backend.batchNormalizationBackward(dY, normalized: train.normalized, rstd: train.rstd, gamma: gamma,
                                                            training: true, dGamma: dGamma, dBeta: dBeta)
            try f.expect(dX, on: backend, equals: "train_dx")
            try f.expect(dGamma, on: backend, equals: "train_dgamma")
            try f.expect(dBeta, on: backend, equals: "train_dbeta")
            let eval = try backend.batchNormalization(x, gamma: gamma, beta: beta, running: running, training: false,
                                                      momentum: BatchNormDefaults.momentum, eps: BatchNormDefaults.eps)
            try f.expect(eval.y, on: backend, equals: "eval_y")
            try f.expect(running.mean, on: backend, equals: "running_mean_after")  // evaluation leaves them
            let dXEval = try backend.batchNormalizationBackward(dY, normalized: eval.normalized, rstd: eval.rstd,
                                                                gamma: gamma, training: false, dGamma: nil, dBeta: nil)
            try f.expect(dXEval, on: backend, equals: "eval_dx")
        }
    }

    @Test("max pooling matches torch.nn.MaxPool2d, indices included",
          arguments: ["maxpool_n2c3h7w7k3s2p1", "maxpool_n1c2h6w5k2s2p0", "maxpool_n2c2h5w5k3s1p1"])
    func maxPool(_ tag: String) throws {
        let f = LayerFixture(tag: tag)
        let g = try f.integers("geometry")
        let window = PoolWindow(kernel: g[0], stride: g[1], padding: g[2])
        try forEachBackend { backend in
            let x = try f.input("x", on: backend)
            let r = try backend.maxPool2d(x, window: window)
            try f.expect(r.y, on: backend, equals: "y")
            try f.expect(r.indices, on: backend, equals: "indices")
            let dX = try backend.maxPool2dBackward(try f.input("dy", on: backend), indices: r.indices,
                                                   inputShape: x.shape, window: window)
            try f.expect(dX, on: backend, equals: "dx")
        }
    }
}
