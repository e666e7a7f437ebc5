// Encoders for small images: an MLP (Linear + BN + ReLU blocks), a small ConvNet (convolution +
// BN + ReLU + max-pool blocks, then one dense layer) and a small CIFAR-style ResNet (3×3 stem,
// residual BasicBlocks, global average pooling).
import SSLCore

/// Flatten, then `Linear → BatchNorm1d → ReLU` per hidden width: `dims = [784, 512, 256]` maps
/// `(N, 1, 28, 28)` or `(N, 784)` to `(N, 256)`. Layers are named `fc1`, `bn1`, `fc2`, `bn2`, ….
///
/// The linear layers have no bias, as convolutions before batch norm in torchvision's ResNets:
/// batch norm subtracts it again (its β takes its place), so its true gradient is 0 and what
/// the backward computes is rounding noise, which Adam's normalised step would turn into
/// updates of ±lr — and into runs that differ with the number of ranks.
public final class MLPEncoder: FeatureLayer {
    public let dims: [Int]
    public var outputDimension: Int { dims.last! }
    let body: Sequential

    /// - Parameters:
    ///   - name: the prefix of every parameter name ("" for none).
    ///   - dims: the input size, then each layer's width; at least two entries.
    ///   - seed: with each layer's name, fixes its initial values.
    ///   - backend: where the parameters live.
    public init(name: String = "", dims: [Int], seed: UInt64, on backend: any Backend) throws {
        guard dims.count >= 2, dims.allSatisfy({ $0 > 0 }) else {
            throw SSLError.invalidArgument(op: "MLPEncoder", detail: "dims must be the input size and at least one positive width, got \(dims)")
        }
        self.dims = dims
        var layers: [any Layer] = [Flatten()]
        for i in 1..<dims.count {
            layers.append(try Linear(name: qualified(name, "fc\(i)"), inFeatures: dims[i - 1], outFeatures: dims[i],
                                     bias: false, seed: seed, on: backend))
            layers.append(try BatchNorm1d(name: qualified(name, "bn\(i)"), features: dims[i], on: backend))
            layers.append(ReLU(on: backend))
        }
        body = Sequential(layers)
    }

    public var parameters: [Parameter] { body.parameters }
    public var buffers: [NamedBuffer] { body.buffers }
    public func setTraining(_ training: Bool) { body.setTraining(training) }
    public var sublayers: [any Layer] { [body] }

    /// `layer i (width)`: Flatten with the first block, then each `Linear → BatchNorm1d → ReLU`.
    public var stages: [(name: String, layer: any Layer)] {
        (1..<dims.count).map { i in
            let block = Array(body.layers[(i == 1 ? 0 : 3 * i - 2)..<(3 * i + 1)])
            return ("layer \(i) (\(dims[i]))", Sequential(block))
        }
    }

    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) { try body.forward(x) }
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try body(x) }
    public func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor { try body.backward(cache, dY) }
    public func backwardParameters(_ cache: LayerCache, _ dY: Tensor) throws { try body.backwardParameters(cache, dY) }
}

/// Per width in `channels`: `Conv2d 3×3 (padding 1) → BatchNorm2d → ReLU → MaxPool2d(2)`, then
/// `Flatten → Linear → BatchNorm1d → ReLU` to `hidden`: `channels = [16, 32]`, `hidden = 512` maps
/// `(N, 1, 28, 28)` through 16×14×14 and 32×7×7 to `(N, 512)`. The classic small ConvNet of the
/// MNIST tutorials, with batch norm; its convolutions see a garment shifted by a few pixels as
/// the same pattern, which an MLP must learn from augmentations. Names: `conv1`, `bn1`, `conv2`,
/// `bn2`, …, then `fc` and `bn`. Convolutions and the dense layer have no bias (batch norm's β
/// takes its place, see ``MLPEncoder``).
public final class ConvNetEncoder: FeatureLayer {
    public let inputChannels: Int
    public let channels: [Int]
    public let hidden: Int
    public var outputDimension: Int { hidden }
    let body: Sequential

    /// - Parameters:
    ///   - name: the prefix of every parameter name ("" for none).
    ///   - inputChannels: 1 for 28×28×1, 3 for 32×32×3.
    ///   - size: the images' side; each block halves it (rounding down), and it must stay ≥ 1.
    ///   - channels: each convolution block's output channels; at least one.
    ///   - hidden: the dense layer's width, the encoder's output.
    ///   - seed: with each layer's name, fixes its initial values.
    ///   - backend: where the parameters live.
    public init(name: String = "", inputChannels: Int, size: Int, channels: [Int], hidden: Int, seed: UInt64,
                on backend: any Backend) throws {
        guard inputChannels > 0, size > 0, !channels.isEmpty, channels.allSatisfy({ $0 > 0 }), hidden > 0,
              size >> channels.count >= 1 else {
            throw SSLError.invalidArgument(op: "ConvNetEncoder", detail: "channels and widths must be positive and each of the "
                                           + "\(channels.count) blocks must leave at least one pixel, got input \(inputChannels)×"
                                           + "\(size)×\(size), channels \(channels), hidden \(hidden)")
        }
        (self.inputChannels, self.channels, self.hidden) = (inputChannels, channels, hidden)
        var layers: [any Layer] = []
        var previous = inputChannels
        for (i, width) in channels.enumerated() {
            layers += [
                try Conv2d(name: qualified(name, "conv\(i + 1)"), inChannels: previous, outChannels: width, kernel: 3,
                           padding: 1, bias: false, seed: seed, on: backend),
                try BatchNorm2d(name: qualified(name, "bn\(i + 1)"), channels: width, on: backend),
                ReLU(on: backend),
                MaxPool2d(kernel: 2, on: backend),
            ]
            previous = width
        }
        let side = size >> channels.count
        layers += [
            Flatten(),
            try Linear(name: qualified(name, "fc"), inFeatures: previous * side * side, outFeatures: hidden, bias: false,
                       seed: seed, on: backend),
            try BatchNorm1d(name: qualified(name, "bn"), features: hidden, on: backend),
            ReLU(on: backend),
        ]
        body = Sequential(layers)
    }

    public var parameters: [Parameter] { body.parameters }
    public var buffers: [NamedBuffer] { body.buffers }
    public func setTraining(_ training: Bool) { body.setTraining(training) }
    public var sublayers: [any Layer] { [body] }

    /// Each convolution block (after its pooling), then the dense layer.
    public var stages: [(name: String, layer: any Layer)] {
        channels.indices.map { i in ("block \(i + 1) (\(channels[i]))", Sequential(Array(body.layers[4 * i..<4 * i + 4]))) }
            + [("dense (\(hidden))", Sequential(Array(body.layers.suffix(4))))]
    }

    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) {
        try requireImages(x, channels: inputChannels, layer: "ConvNetEncoder")
        return try body.forward(x)
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try requireImages(x, channels: inputChannels, layer: "ConvNetEncoder")
        return try body(x)
    }

    public func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor { try body.backward(cache, dY) }
    public func backwardParameters(_ cache: LayerCache, _ dY: Tensor) throws { try body.backwardParameters(cache, dY) }
}

/// The residual block of ResNet-18/34 (torchvision's `BasicBlock`):
/// `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`, 3×3 convolutions without bias, the
/// first with the block's stride; the shortcut is the identity, or a 1×1 convolution with the
/// stride + batch norm when the shape changes. Names: `conv1`, `bn1`, `conv2`, `bn2`,
/// `shortcut.conv`, `shortcut.bn`.
public final class BasicBlock: Layer {
    let main: Sequential
    let shortcut: Sequential?
    let relu: ReLU
    let backend: any Backend

    /// - Parameters:
    ///   - name: the prefix of the parameter names.
    ///   - inChannels: the input's channels.
    ///   - outChannels: the output's channels.
    ///   - stride: of the first convolution and of the shortcut: 2 halves the resolution.
    ///   - zeroInitResidual: start bn2's γ at 0, so the block starts as its shortcut
    ///     (torchvision's `zero_init_residual`, which SimSiam sets).
    ///   - seed: with each layer's name, fixes its initial values.
    ///   - backend: where the parameters live.
    public init(name: String, inChannels: Int, outChannels: Int, stride: Int, zeroInitResidual: Bool = false,
                seed: UInt64, on backend: any Backend) throws {
        let bn2 = try BatchNorm2d(name: qualified(name, "bn2"), channels: outChannels, on: backend)
        if zeroInitResidual, let gamma = bn2.gamma { try backend.fill(gamma.value, with: 0) }
        main = Sequential([
            try Conv2d(name: qualified(name, "conv1"), inChannels: inChannels, outChannels: outChannels, kernel: 3,
                       stride: stride, padding: 1, bias: false, seed: seed, on: backend),
            try BatchNorm2d(name: qualified(name, "bn1"), channels: outChannels, on: backend),
            ReLU(on: backend),
            try Conv2d(name: qualified(name, "conv2"), inChannels: outChannels, outChannels: outChannels, kernel: 3,
                       padding: 1, bias: false, seed: seed, on: backend),
            bn2,
        ])
        shortcut = stride == 1 && inChannels == outChannels ? nil : Sequential([
            try Conv2d(name: qualified(name, "shortcut.conv"), inChannels: inChannels, outChannels: outChannels, kernel: 1,
                       stride: stride, bias: false, seed: seed, on: backend),
            try BatchNorm2d(name: qualified(name, "shortcut.bn"), channels: outChannels, on: backend),
        ])
        relu = ReLU(on: backend)
        self.backend = backend
    }

    public var parameters: [Parameter] { main.parameters + (shortcut?.parameters ?? []) }
    public var buffers: [NamedBuffer] { main.buffers + (shortcut?.buffers ?? []) }
    public var sublayers: [any Layer] { [main] + (shortcut.map { [$0] } ?? []) }
    public func setTraining(_ training: Bool) {
        main.setTraining(training)
        shortcut?.setTraining(training)
    }

    struct Cache: LayerCache { let main: LayerCache, shortcut: LayerCache?, relu: LayerCache }

    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) {
        let (sum, mainCache) = try main.forward(x)
        let side = try shortcut?.forward(x)
        // In place on bn2's output, which no cache holds (batch norm keeps x̂, not y).
        try backend.axpby(side?.output ?? x, alpha: 1, beta: 1, into: sum)
        let (y, reluCache) = try relu.forward(sum)
        return (y, Cache(main: mainCache, shortcut: side?.cache, relu: reluCache))
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let sum = try main(x)
        try backend.axpby(try shortcut?(x) ?? x, alpha: 1, beta: 1, into: sum)
        return try relu(sum)
    }

    public func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor {
        let c = try layerCache(cache, as: Cache.self, layer: "BasicBlock")
        let dSum = try relu.backward(c.relu, dY)
        // The sum's gradient flows into both branches; dX is the sum of theirs.
        let dX = try main.backward(c.main, dSum)
        if let shortcut, let s = c.shortcut {
            try backend.axpby(try shortcut.backward(s, dSum), alpha: 1, beta: 1, into: dX)
        } else {
            try backend.axpby(dSum, alpha: 1, beta: 1, into: dX)
        }
        return dX
    }
}

/// A small ResNet for 28×28×1 (MNIST-style) and 32×32×3 (CIFAR) images, in the CIFAR style of
/// He et al. (2016, §4.2): a 3×3 stem convolution + BN + ReLU (no 7×7 stride-2 stem, no max
/// pool), stages of ``BasicBlock``s whose first block halves the resolution from the second stage
/// on, and global average pooling to `(N, widths.last)`.
///
/// ```swift
/// let encoder = try ResNetEncoder(inputChannels: 3, stemWidth: 16, stageWidths: [16, 32, 64],
///                                 blocksPerStage: 1, seed: 0, on: backend)   // (N, 3, 32, 32) → (N, 64)
/// ```
/// Names: `stem.conv`, `stem.bn`, then `block1`, `block2`, … numbered across stages.
public final class ResNetEncoder: FeatureLayer {
    public let inputChannels: Int
    public let stageWidths: [Int]
    public var outputDimension: Int { stageWidths.last! }
    let body: Sequential

    /// - Parameters:
    ///   - name: the prefix of every parameter name ("" for none).
    ///   - inputChannels: 1 for 28×28×1, 3 for 32×32×3.
    ///   - stemWidth: the stem convolution's output channels.
    ///   - stageWidths: one width per stage (ResNet-18 uses 64, 128, 256, 512).
    ///   - blocksPerStage: blocks in each stage (2 in ResNet-18).
    ///   - zeroInitResidual: see ``BasicBlock``.
    ///   - seed: with each layer's name, fixes its initial values.
    ///   - backend: where the parameters live.
    public init(name: String = "", inputChannels: Int, stemWidth: Int, stageWidths: [Int], blocksPerStage: Int = 2,
                zeroInitResidual: Bool = false, seed: UInt64, on backend: any Backend) throws {
        guard inputChannels > 0, stemWidth > 0, !stageWidths.isEmpty, stageWidths.allSatisfy({ $0 > 0 }), blocksPerStage >= 1 else {
            throw SSLError.invalidArgument(op: "ResNetEncoder", detail: "channels, widths and blocks must be positive, got input "
                                           + "\(inputChannels), stem \(stemWidth), stages \(stageWidths), \(blocksPerStage) blocks per stage")
        }
        (self.inputChannels, self.stageWidths) = (inputChannels, stageWidths)
        var layers: [any Layer] = [
            try Conv2d(name: qualified(name, "stem.conv"), inChannels: inputChannels, outChannels: stemWidth, kernel: 3,
                       padding: 1, bias: false, seed: seed, on: backend),
            try BatchNorm2d(name: qualified(name, "stem.bn"), channels: stemWidth, on: backend),
            ReLU(on: backend),
        ]
        var channels = stemWidth
        for (stage, width) in stageWidths.enumerated() {
            for block in 0..<blocksPerStage {
                layers.append(try BasicBlock(name: qualified(name, "block\(layers.count - 2)"), inChannels: channels,
                                             outChannels: width, stride: stage > 0 && block == 0 ? 2 : 1,
                                             zeroInitResidual: zeroInitResidual, seed: seed, on: backend))
                channels = width
            }
        }
        layers.append(GlobalAvgPool(on: backend))
        body = Sequential(layers)
    }

    public var parameters: [Parameter] { body.parameters }
    public var buffers: [NamedBuffer] { body.buffers }
    public func setTraining(_ training: Bool) { body.setTraining(training) }
    public var sublayers: [any Layer] { [body] }

    /// The stem (convolution, BN, ReLU), each residual block, and the global average pool.
    public var stages: [(name: String, layer: any Layer)] {
        let blocks = body.layers.dropFirst(3).dropLast()
        return [("stem", Sequential(Array(body.layers.prefix(3))))]
            + blocks.enumerated().map { ("block \($0.offset + 1)", $0.element) }
            + [("output (\(outputDimension))", body.layers.last!)]
    }

    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) {
        try requireImages(x, channels: inputChannels, layer: "ResNetEncoder")
        return try body.forward(x)
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try requireImages(x, channels: inputChannels, layer: "ResNetEncoder")
        return try body(x)
    }

    public func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor { try body.backward(cache, dY) }
    public func backwardParameters(_ cache: LayerCache, _ dY: Tensor) throws { try body.backwardParameters(cache, dY) }
}

/// Throws unless `x` is `(N, channels, H, W)`: a convolutional encoder's input.
private func requireImages(_ x: Tensor, channels: Int, layer: String) throws {
    guard x.rank == 4, x.shape[1] == channels else {
        throw SSLError.shapeMismatch(op: layer, detail: "x must be (N, \(channels), H, W), got \(shapeDescription(x.shape))")
    }
}
