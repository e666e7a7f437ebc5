// The layer objects of SSLTrain: gradients of every layer and of whole encoders and heads against
// Double finite differences, gradient accumulation over two forwards, training and evaluation
// modes, names, initialisation, OpenCL against the reference, errors.
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

@Suite struct LayersGradientTests {
    private static var backend: any Backend { TestBackends.reference }

    @Test("Linear, WeightNormLinear, activations and Flatten")
    func dense() throws {
        let b = Self.backend
        try checkLayerGradients("Linear", try Linear(name: "fc", inFeatures: 5, outFeatures: 3, seed: 1, on: b), input: [4, 5], seed: 1)
        try checkLayerGradients("Linear without bias", try Linear(name: "fc", inFeatures: 3, outFeatures: 7, bias: false, seed: 2, on: b),
                                input: [2, 3], seed: 2)
        try checkLayerGradients("WeightNormLinear", try WeightNormLinear(name: "last", inFeatures: 4, outFeatures: 6, seed: 3, on: b),
                                input: [3, 4], seed: 3)
        try checkLayerGradients("ReLU", ReLU(on: b), input: [3, 7], seed: 4)
        try checkLayerGradients("GELU", GELU(on: b), input: [3, 7], seed: 5)
        try checkLayerGradients("Flatten", Sequential([Flatten(), try Linear(name: "fc", inFeatures: 12, outFeatures: 2, seed: 6, on: b)]),
                                input: [2, 3, 2, 2], seed: 6)
    }

    @Test("Conv2d: 1×1 and 3×3, stride 1 and 2, padding 0 and 1, with and without bias")
    func convolution() throws {
        let b = Self.backend
        for (i, c) in [(3, 2, 3, 1, 1, true), (2, 3, 1, 2, 0, false), (1, 2, 3, 2, 1, false), (2, 2, 2, 1, 0, true)].enumerated() {
            let conv = try Conv2d(name: "conv", inChannels: c.0, outChannels: c.1, kernel: c.2, stride: c.3, padding: c.4,
                                  bias: c.5, seed: UInt64(i), on: b)
            try checkLayerGradients("Conv2d \(c)", conv, input: [2, c.0, 5, 4], seed: UInt64(10 + i))
        }
    }

    @Test("BatchNorm1d and BatchNorm2d, training and evaluation, with and without affine")
    func batchNorm() throws {
        let b = Self.backend
        for training in [true, false] {
            let bn1 = try BatchNorm1d(name: "bn", features: 4, on: b), bn2 = try BatchNorm2d(name: "bn", channels: 3, on: b)
            let plain = try BatchNorm1d(name: "bn", features: 5, affine: false, on: b)
            for bn in [bn1, bn2, plain] as [BatchNorm] {
                // Non-trivial γ, β and running statistics, so every term of the gradient matters.
                var rng = SeededRandom(seed: 21)
                for p in bn.parameters { try b.axpby(try b.upload(rng.uniform(p.shape[0], scale: 0.5), shape: p.shape),
                                                     alpha: 1, beta: 1, into: p.value) }
                try b.axpby(try b.upload(rng.uniform(bn.features, scale: 0.3), shape: [bn.features]), alpha: 1, beta: 1,
                            into: bn.running.mean)
                try b.axpby(try b.upload(rng.uniform(bn.features, scale: 0.5), shape: [bn.features]), alpha: 1, beta: 1,
                            into: bn.running.variance)
                bn.setTraining(training)
                let shape = bn is BatchNorm2d ? [3, 3, 2, 3] : [6, bn.features]
                try checkLayerGradients("\(type(of: bn)) affine \(bn.gamma != nil) training \(training)", bn, input: shape, seed: 22)
            }
        }
    }

    @Test("pooling layers")
    func pooling() throws {
        let b = Self.backend
        try checkLayerGradients("MaxPool2d", MaxPool2d(kernel: 3, stride: 2, padding: 1, on: b), input: [2, 2, 5, 6], seed: 31)
        try checkLayerGradients("AvgPool2d", AvgPool2d(kernel: 2, on: b), input: [2, 2, 4, 6], seed: 32)
        try checkLayerGradients("AvgPool2d no pad count", AvgPool2d(kernel: 3, stride: 2, padding: 1, countIncludePad: false, on: b),
                                input: [1, 2, 5, 5], seed: 33)
        try checkLayerGradients("GlobalAvgPool", GlobalAvgPool(on: b), input: [2, 3, 3, 2], seed: 34)
    }

    @Test("a small ResNet encoder end to end: stem, identity and projection blocks, pooling")
    func resNet() throws {
        let encoder = try ResNetEncoder(inputChannels: 1, stemWidth: 2, stageWidths: [2, 3], blocksPerStage: 1, seed: 7,
                                        on: Self.backend)
        try checkLayerGradients("ResNetEncoder", encoder, input: [3, 1, 6, 6], seed: 41)
    }

    @Test("MLP encoder and the heads end to end")
    func mlpAndHeads() throws {
        let b = Self.backend
        try checkLayerGradients("MLPEncoder", try MLPEncoder(dims: [12, 6, 5], seed: 8, on: b), input: [4, 3, 2, 2], seed: 51)
        try checkLayerGradients("SimSiam projector", try MLPHead.simsiamProjector(inputDimension: 4, outputDimension: 3, seed: 9, on: b),
                                input: [5, 4], seed: 52)
        // DINO's std-0.02 weights make the bottleneck tiny and its normalisation's gradient ~1e5:
        // too ill-conditioned for finite differences, so the weights get O(1) values first.
        let dino = try DINOHead(inputDimension: 5, outputDimension: 7, hiddenDimension: 6, bottleneckDimension: 4, seed: 10, on: b)
        var rng = SeededRandom(seed: 55)
        for p in dino.mlp.parameters {
            try b.axpby(try b.upload(rng.uniform(p.value.count), shape: p.shape), alpha: 1, beta: 1, into: p.value)
        }
        try checkLayerGradients("DINO head", dino, input: [3, 5], seed: 53)
        try checkLayerGradients("VICReg expander", try MLPHead.vicreg(inputDimension: 4, dims: [6, 6, 3], seed: 11, on: b),
                                input: [4, 4], seed: 54)
    }
}

@Suite struct EncoderStagesTests {
    /// The stages are what the layer-wise evaluation reads: they must cover the encoder exactly.
    @Test("an encoder's stages, run in order, are its forward; MLP stages end at each hidden layer, ConvNet's and ResNet's at each block")
    func stagesComposeToForward() throws {
        let backend = TestBackends.reference
        let mlp = try MLPEncoder(dims: [36, 6, 5, 4], seed: 8, on: backend)
        let resnet = try ResNetEncoder(inputChannels: 1, stemWidth: 2, stageWidths: [2, 3], blocksPerStage: 1, seed: 7, on: backend)
        let convnet = try ConvNetEncoder(inputChannels: 1, size: 6, channels: [2, 3], hidden: 5, seed: 9, on: backend)
        for (encoder, names, shapes) in [
            (mlp as any FeatureLayer, ["layer 1 (6)", "layer 2 (5)", "layer 3 (4)"], [[3, 6], [3, 5], [3, 4]]),
            (convnet, ["block 1 (2)", "block 2 (3)", "dense (5)"], [[3, 2, 3, 3], [3, 3, 1, 1], [3, 5]]),
            (resnet, ["stem", "block 1", "block 2", "output (3)"], [[3, 2, 6, 6], [3, 2, 6, 6], [3, 3, 3, 3], [3, 3]]),
        ] {
            encoder.setTraining(false)
            var rng = SeededRandom(seed: 3)
            let x = try backend.upload(rng.uniform(3 * 36), shape: [3, 1, 6, 6])
            var y = x, outputs: [[Int]] = []
            for stage in encoder.stages {
                y = try stage.layer.forward(y).output
                outputs.append(y.shape)
            }
            #expect(encoder.stages.map(\.name) == names && outputs == shapes)
            #expect(try backend.download(y) == (try backend.download(try encoder.forward(x).output)))
        }
    }
}

@Suite struct LayersBehaviourTests {
    @Test("two forwards before two backwards add both views' gradients; BN running statistics move twice")
    func twoViews() throws {
        let b = TestBackends.reference
        let encoder = try MLPEncoder(dims: [6, 4], seed: 3, on: b)
        var rng = SeededRandom(seed: 61)
        let x1 = try b.upload(rng.uniform(18), shape: [3, 6]), x2 = try b.upload(rng.uniform(18), shape: [3, 6])
        let d1 = try b.upload(rng.uniform(12), shape: [3, 4]), d2 = try b.upload(rng.uniform(12), shape: [3, 4])
        func gradients() throws -> [Float] { try encoder.parameters.flatMap { try b.download($0.gradient) } }
        try encoder.zeroGradients(on: b)
        _ = try encoder.backward(try encoder.forward(x1).cache, d1)
        let g1 = try gradients()
        try encoder.zeroGradients(on: b)
        _ = try encoder.backward(try encoder.forward(x2).cache, d2)
        let g2 = try gradients()
        try encoder.zeroGradients(on: b)
        let (_, c1) = try encoder.forward(x1), (_, c2) = try encoder.forward(x2)
        _ = try encoder.backward(c2, d2)
        _ = try encoder.backward(c1, d1)
        assertClose(try gradients(), zip(g1, g2).map { Double($0) + Double($1) }, shape: [g1.count], expectedShape: [g1.count],
                    rtol: 1e-5, atol: 1e-6, "accumulated gradients")
        // Four training forwards from (0, 1): the running mean is Σ_k 0.1·0.9^(3−k)·mean_k ≠ 0.
        let mean = try b.download(encoder.buffers[0].tensor)
        #expect(encoder.buffers.map(\.name) == ["bn1.running_mean", "bn1.running_var"] && mean.contains { $0 != 0 })
    }

    @Test("backwardParameters adds the same parameter gradients as backward, without the input's, on both backends")
    func parameterGradientsAlone() throws {
        for b in allBackends {
            let mlp = try MLPEncoder(dims: [36, 7, 5], seed: 4, on: b)
            let resnet = try ResNetEncoder(inputChannels: 1, stemWidth: 2, stageWidths: [2, 3], blocksPerStage: 1, seed: 5, on: b)
            let head = try MLPHead.simclr(inputDimension: 3, outputDimension: 2, seed: 6, on: b)
            let convnet = try ConvNetEncoder(inputChannels: 1, size: 6, channels: [2, 3], hidden: 4, seed: 8, on: b)
            let networks: [(String, [any Layer])] = [("MLP", [mlp]), ("ResNet and a head", [resnet, head]), ("ConvNet", [convnet]),
                                                     ("a flatten first", [Flatten(), try Linear(name: "fc", inFeatures: 36, outFeatures: 3, seed: 7, on: b)]),
                                                     ("no parameters", [Flatten(), ReLU(on: b)])]
            var rng = SeededRandom(seed: 62)
            let x = try b.upload(rng.uniform(3 * 36), shape: [3, 1, 6, 6])
            for (what, network) in networks {
                let (y, caches) = try network.forward(x)
                let dY = try b.upload(rng.uniform(y.count), shape: y.shape)
                func gradients() throws -> [Float] { try network.flatMap(\.parameters).flatMap { try b.download($0.gradient) } }
                for layer in network { try layer.zeroGradients(on: b) }
                let dX = try network.backward(caches, dY)
                let full = try gradients()
                for layer in network { try layer.zeroGradients(on: b) }
                try network.backwardParameters(caches, dY)
                #expect(try gradients() == full, "\(what) on \(b.name)")
                #expect(dX.shape == x.shape)
            }
            let (_, caches) = try [mlp as any Layer].forward(x)
            #expect(throws: SSLError.self) { try [mlp as any Layer].backwardParameters(caches + caches, x) }
        }
    }

    @Test("evaluation uses and keeps the running statistics; training is per forward")
    func evaluationMode() throws {
        let b = TestBackends.reference
        let bn = try BatchNorm1d(name: "bn", features: 2, on: b)
        let x = try b.upload([1, 10, 3, 30, 5, 20], shape: [3, 2])
        _ = try bn.forward(x)
        let mean = try b.download(bn.running.mean), variance = try b.download(bn.running.variance)
        // Batch means 3, 20; unbiased variances 4, 100 (PyTorch's running_var).
        #expect(abs(mean[0] - 0.3) < 1e-6 && abs(mean[1] - 2) < 1e-6)
        #expect(abs(variance[0] - (0.9 + 0.4)) < 1e-6 && abs(variance[1] - (0.9 + 10)) < 1e-5)
        bn.setTraining(false)
        let (y, cache) = try bn.forward(x)
        #expect(try b.download(bn.running.mean) == mean)
        let expected = [1, 10, 3, 30, 5, 20].enumerated().map { (Double($1) - Double(mean[$0 % 2])) / (Double(variance[$0 % 2]) + 1e-5).squareRoot() }
        assertClose(try b.download(y), expected, shape: y.shape, expectedShape: [3, 2], rtol: 1e-6, atol: 1e-6, "eval BN")
        // The cache remembers evaluation even if the flag changes before the backward: dX = rstd·dY.
        bn.setTraining(true)
        let dX = try b.download(try bn.backward(cache, try b.upload([1, 1, 1, 1, 1, 1], shape: [3, 2])))
        #expect(abs(Double(dX[0]) - 1 / (Double(variance[0]) + 1e-5).squareRoot()) < 1e-6)
    }

    @Test("names, buffers, bias/norm flags and output dimensions")
    func names() throws {
        let b = TestBackends.reference
        let resnet = try ResNetEncoder(inputChannels: 3, stemWidth: 4, stageWidths: [4, 8], blocksPerStage: 1, seed: 0, on: b)
        let names = resnet.parameters.map(\.name)
        #expect(names.prefix(3) == ["stem.conv.weight", "stem.bn.weight", "stem.bn.bias"])
        #expect(names.contains("block1.conv1.weight") && names.contains("block2.shortcut.conv.weight"))
        #expect(!names.contains("block1.shortcut.conv.weight"), "same shape: identity shortcut")
        #expect(Set(names).count == names.count && resnet.outputDimension == 8)
        #expect(resnet.buffers.map(\.name).contains("block2.shortcut.bn.running_var"))
        #expect(resnet.parameters.filter(\.isBiasOrNorm).allSatisfy { $0.name.hasSuffix(".bias") || $0.name.contains("bn") })
        let barlow = try MLPHead.barlowTwins(inputDimension: 8, dims: [16, 16, 4], seed: 0, on: b)
        #expect(barlow.parameters.map(\.name) == ["projector.0.weight", "projector.1.weight", "projector.1.bias",
                                                  "projector.3.weight", "projector.4.weight", "projector.4.bias", "projector.6.weight"])
        let simsiam = try MLPHead.simsiamProjector(inputDimension: 4, outputDimension: 3, seed: 0, on: b)
        #expect(simsiam.buffers.map(\.name).last == "projector.7.running_var" && simsiam.parameters.last?.name == "projector.6.weight")
        let dino = try DINOHead(inputDimension: 4, outputDimension: 9, hiddenDimension: 5, bottleneckDimension: 3, seed: 0, on: b)
        #expect(dino.parameters.last?.name == "head.last_layer.weight_v" && dino.outputDimension == 9)
        let convnet = try ConvNetEncoder(inputChannels: 1, size: 28, channels: [4, 6], hidden: 10, seed: 0, on: b)
        #expect(convnet.parameters.map(\.name) == ["conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias",
                                                    "fc.weight", "bn.weight", "bn.bias"])
        #expect(convnet.parameters[6].value.shape == [10, 6 * 7 * 7])
        #expect(try convnet.forward(try b.zeros([2, 1, 28, 28])).output.shape == [2, 10])
        #expect(throws: SSLError.self) { try ConvNetEncoder(inputChannels: 1, size: 3, channels: [2, 2], hidden: 4, seed: 0, on: b) }
        #expect(throws: SSLError.self) { try EncoderFactory.make("convnet", widths: [512], channels: 1, size: 28, seed: 0, on: b) }
        for (shape, encoder) in [([2, 1, 28, 28], try ResNetEncoder(inputChannels: 1, stemWidth: 2, stageWidths: [2, 3], blocksPerStage: 1, seed: 0, on: b)),
                                 ([2, 3, 32, 32], resnet)] as [([Int], ResNetEncoder)] {
            let y = try encoder.forward(try b.zeros(shape)).output
            #expect(y.shape == [2, encoder.outputDimension])
        }
    }

    @Test("initialisation: PyTorch's kaiming-uniform bounds, DINO's truncated normal, seeded by seed and name")
    func initialisation() throws {
        let b = TestBackends.reference
        let fc = try Linear(name: "fc", inFeatures: 100, outFeatures: 50, seed: 5, on: b)
        let w = try b.download(fc.weight.value), bias = try b.download(fc.bias!.value)
        #expect((w + bias).allSatisfy { abs($0) <= 0.1 } && w.map(abs).max()! > 0.099)
        let variance = w.map { Double($0 * $0) }.reduce(0, +) / Double(w.count)
        #expect(abs(variance - 0.01 / 3) < 0.0003, "U(±b) has variance b²/3")
        #expect(try b.download(try Linear(name: "fc", inFeatures: 100, outFeatures: 50, seed: 5, on: b).weight.value) == w)
        #expect(try b.download(try Linear(name: "fc2", inFeatures: 100, outFeatures: 50, seed: 5, on: b).weight.value) != w)
        let conv = try b.download(try Conv2d(name: "c", inChannels: 3, outChannels: 4, kernel: 3, seed: 1, on: b).weight.value)
        #expect(conv.allSatisfy { abs($0) <= 1 / Float(27).squareRoot() })
        let dino = try DINOHead(inputDimension: 64, outputDimension: 8, hiddenDimension: 64, bottleneckDimension: 64, seed: 2, on: b)
        let first = try b.download(dino.mlp.parameters[0].value), firstBias = try b.download(dino.mlp.parameters[1].value)
        let std = (first.map { Double($0 * $0) }.reduce(0, +) / Double(first.count)).squareRoot()
        #expect(abs(std - 0.02) < 0.001 && firstBias.allSatisfy { $0 == 0 })
    }

    @Test("SwAV prototypes: a bias-free Linear whose rows l2NormalizeInPlace makes unit")
    func prototypes() throws {
        try forEachBackend { b in
            let prototypes = try Linear.swavPrototypes(features: 6, prototypes: 5, seed: 4, on: b)
            #expect(prototypes.bias == nil && prototypes.weight.shape == [5, 6])
            try b.l2NormalizeInPlace(prototypes.weight.value)
            let w = try b.download(prototypes.weight.value)
            for r in 0..<5 {
                let norm = (0..<6).map { Double(w[r * 6 + $0] * w[r * 6 + $0]) }.reduce(0, +).squareRoot()
                #expect(abs(norm - 1) < 1e-6, "row \(r) on \(b.name)")
            }
        }
    }

    @Test("errors name the layer and the shapes; a foreign cache is refused")
    func errors() throws {
        let b = TestBackends.reference
        let fc = try Linear(name: "proj.fc", inFeatures: 4, outFeatures: 3, seed: 0, on: b)
        let error = #expect(throws: SSLError.self) { _ = try fc.forward(try b.zeros([2, 5])) }
        #expect(error?.description.contains("proj.fc") == true && error?.description.contains("(2, 5)") == true)
        let (_, cache) = try ReLU(on: b).forward(try b.zeros([2, 4]))
        let foreign = #expect(throws: SSLError.self) { _ = try fc.backward(cache, try b.zeros([2, 3])) }
        #expect(foreign?.description.contains("proj.fc") == true)
        let conv = try Conv2d(name: "block1.conv1", inChannels: 3, outChannels: 2, kernel: 3, seed: 0, on: b)
        let channels = #expect(throws: SSLError.self) { _ = try conv.forward(try b.zeros([1, 2, 5, 5])) }
        #expect(channels?.description.contains("block1.conv1") == true && channels?.description.contains("(N, 3, H, W)") == true)
        let bn = try BatchNorm2d(name: "stem.bn", channels: 4, on: b)
        #expect(throws: SSLError.self) { _ = try bn.forward(try b.zeros([2, 3, 2, 2])) }
        let single = #expect(throws: SSLError.self) { _ = try BatchNorm1d(name: "bn", features: 3, on: b).forward(try b.zeros([1, 3])) }
        #expect(single?.description.contains("more than 1 value per channel") == true)
        #expect(throws: SSLError.self) { _ = try ResNetEncoder(inputChannels: 1, stemWidth: 2, stageWidths: [], seed: 0, on: b) }
        #expect(throws: SSLError.self) { _ = try MLPHead(dims: [4], batchNormHidden: true, batchNormLast: false, biasLast: true, seed: 0, on: b) }
        #expect(throws: SSLError.self) { _ = try fc.backward(try fc.forward(try b.zeros([2, 4])).cache, try b.zeros([3, 3])) }
    }
}

@Suite(.enabled(if: TestBackends.hasOpenCL)) struct LayersParityTests {
    /// The same seeded ResNet and MLP head on both backends: output, input gradient and every
    /// parameter gradient. Errors compound over the layers but stay float32-sized: 1e-4 of the
    /// largest value of each tensor.
    @Test("a ResNet encoder and a projector on OpenCL match the reference, forward and backward")
    func encoder() throws {
        var rng = SeededRandom(seed: 71)
        let x = rng.uniform(3 * 3 * 9 * 9), dZ = rng.uniform(3 * 4)
        var results: [(y: [Float], dX: [Float], gradients: [[Float]], names: [String])] = []
        for backend in [TestBackends.reference, TestBackends.openCL!] as [any Backend] {
            let encoder = try ResNetEncoder(inputChannels: 3, stemWidth: 3, stageWidths: [3, 5], blocksPerStage: 1, seed: 1, on: backend)
            let head = try MLPHead.byol(name: "projector", inputDimension: 5, hiddenDimension: 6, outputDimension: 4, seed: 2, on: backend)
            let model = Sequential([encoder, head])
            let (y, cache) = try model.forward(try backend.upload(x, shape: [3, 3, 9, 9]))
            let dX = try model.backward(cache, try backend.upload(dZ, shape: [3, 4]))
            results.append((try backend.download(y), try backend.download(dX), try model.parameters.map { try backend.download($0.gradient) },
                            model.parameters.map(\.name)))
        }
        let (ref, cl) = (results[0], results[1])
        // The bias before each batch norm has a zero gradient in exact arithmetic (the batch norm
        // removes it), so its float32 values are rounding noise of the model's gradient scale G.
        let g = ref.gradients.flatMap { $0 }.map { abs(Double($0)) }.max()!
        func close(_ a: [Float], _ e: [Float], _ what: String) {
            let scale = e.map { abs(Double($0)) }.max() ?? 0
            assertClose(a, e.map(Double.init), shape: [a.count], expectedShape: [e.count], rtol: 0,
                        atol: 1e-4 * scale + 1e-5 * g, what)
        }
        close(cl.y, ref.y, "output")
        close(cl.dX, ref.dX, "dX")
        for (i, name) in ref.names.enumerated() { close(cl.gradients[i], ref.gradients[i], name) }
    }
}
