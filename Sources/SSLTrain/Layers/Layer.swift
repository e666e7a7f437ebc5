// The layer abstraction: explicit forward/backward with caches (llm.c style), named parameters
// and buffers, a training flag; and the seeded initialisation every layer shares.
import Foundation
import SSLCore

/// What a layer's forward keeps for its backward. Each layer has its own cache type; a backward
/// given another layer's cache throws.
public protocol LayerCache {}

/// A differentiable layer with an explicit backward pass.
///
/// Layers are not `Sendable`: a network, its parameters and its optimizer belong to one task at
/// a time (a forward updates batch norm's running statistics, a backward adds into gradients,
/// a step writes parameters in place). Run several networks in parallel, not one from two tasks.
///
/// `forward` returns the output and a cache holding exactly what `backward` rereads; `backward`
/// takes that cache and ∂L/∂output, returns ∂L/∂input and **adds** the parameter gradients into
/// ``Parameter/gradient``. A layer keeps no state between the two besides its parameters and
/// buffers, so one layer may run several forwards (two views through one encoder) before their
/// backwards, in any order:
///
/// ```swift
/// let (z1, c1) = try encoder.forward(x1)
/// let (z2, c2) = try encoder.forward(x2)
/// let r = try backend.barlowTwins(z1, z2, lambda: 0.0051, eps: 1e-5)
/// _ = try encoder.backward(c2, r.dZ2)
/// _ = try encoder.backward(c1, r.dZ1)     // gradients of both views summed
/// ```
public protocol Layer: AnyObject {
    /// Trainable tensors, named by dotted paths (`block1.conv1.weight`), in a fixed order.
    var parameters: [Parameter] { get }
    /// Non-trainable state saved in checkpoints: batch norm's `running_mean` and `running_var`.
    var buffers: [NamedBuffer] { get }
    /// Batch statistics (true, the default) or running statistics (false) in batch norm;
    /// containers pass it on to every layer they hold.
    func setTraining(_ training: Bool)
    /// The layers a container holds (none for a leaf), so that a walk over a network reaches
    /// every batch norm (``Layer/descendants``).
    var sublayers: [any Layer] { get }
    /// - Returns: the output and what ``backward(_:_:)`` needs.
    func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache)
    /// - Parameters:
    ///   - cache: what this layer's ``forward(_:)`` returned.
    ///   - dY: ∂L/∂output, the output's shape.
    /// - Returns: ∂L/∂input; parameter gradients are added into their ``Parameter/gradient``.
    func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor
    /// ``backward(_:_:)`` for an input that needs no gradient (a network's first layer reads
    /// the data): adds the parameter gradients and computes no ∂L/∂input. The default runs
    /// ``backward(_:_:)`` and drops its result; ``Linear`` skips the GEMM `dX = dY W` (a third of
    /// its backward), and containers pass the call on to their first layer with parameters.
    func backwardParameters(_ cache: LayerCache, _ dY: Tensor) throws
    /// The output alone, `try layer(x)`: ``forward(_:)`` without keeping what a backward needs
    /// (a container drops each layer's input as soon as the next has run). Batch norm runs in
    /// the mode the layer is in; ``evaluating(_:)`` switches to running statistics.
    func callAsFunction(_ x: Tensor) throws -> Tensor
}

extension Layer {
    public var parameters: [Parameter] { [] }
    public var buffers: [NamedBuffer] { [] }
    public func setTraining(_ training: Bool) {}
    public var sublayers: [any Layer] { [] }

    public func callAsFunction(_ x: Tensor) throws -> Tensor { try forward(x).output }

    public func backwardParameters(_ cache: LayerCache, _ dY: Tensor) throws { _ = try backward(cache, dY) }

    /// `body` with every batch norm inside in evaluation mode (running statistics); each gets
    /// its own mode back afterwards, whatever it was.
    ///
    /// ```swift
    /// let features = try encoder.evaluating { try encoder(images) }
    /// ```
    public func evaluating<T>(_ body: () throws -> T) rethrows -> T {
        let norms = descendants.compactMap { $0 as? BatchNorm }, modes = norms.map(\.training)
        setTraining(false)
        defer { for (norm, mode) in zip(norms, modes) { norm.setTraining(mode) } }
        return try body()
    }

    /// This layer and every layer inside it, depth first.
    public var descendants: [any Layer] { [self] + sublayers.flatMap(\.descendants) }

    /// Sets every parameter gradient to zero (before a step's backwards).
    public func zeroGradients(on backend: any Backend) throws {
        for p in parameters { try p.zeroGradient(on: backend) }
    }
}

/// A layer whose output is a feature vector per sample: an encoder or a head.
public protocol FeatureLayer: Layer {
    /// D of the output `(N, D)`.
    var outputDimension: Int { get }
    /// The layer as consecutive pieces, each ending at a representation worth evaluating (a
    /// hidden layer's activations, a residual block's output); running them in order is
    /// ``Layer/forward(_:)``. The default is the whole layer as one piece.
    var stages: [(name: String, layer: any Layer)] { get }
}

extension FeatureLayer {
    public var stages: [(name: String, layer: any Layer)] { [("output", self)] }
}

/// A named non-trainable tensor of a layer (a checkpoint entry).
public struct NamedBuffer {
    /// A dotted path such as `stem.bn.running_mean`.
    public let name: String
    public let tensor: Tensor

    public init(name: String, tensor: Tensor) {
        self.name = name
        self.tensor = tensor
    }
}

/// How a weight is initialised.
public enum WeightInitialization: Equatable {
    /// PyTorch's default for `nn.Linear` and `nn.Conv2d` (`reset_parameters`): kaiming-uniform with
    /// a = √5, i.e. U(−1/√fan_in, 1/√fan_in), and the bias from the same range.
    case kaimingUniform
    /// `trunc_normal_(std=std)` truncated to [−2, 2] with a zero bias, DINO's `_init_weights`.
    case truncatedNormal(std: Float)
}

/// `prefix.item`, or `item` alone for an unnamed layer.
func qualified(_ prefix: String, _ item: String) -> String { prefix.isEmpty ? item : prefix + "." + item }

/// The cache of the right type, or an error naming the layer.
func layerCache<C: LayerCache>(_ cache: LayerCache, as type: C.Type, layer: String) throws -> C {
    guard let c = cache as? C else {
        throw SSLError.invalidArgument(op: "\(layer.isEmpty ? "layer" : layer) backward",
                                       detail: "got a \(Swift.type(of: cache)), not the cache of this layer's forward")
    }
    return c
}

/// SplitMix64 seeded by the layer's seed and name, so each layer's initial values depend on the
/// seed and its own name only, not on the order in which layers are built.
struct LayerRandom {
    private var generator: SplitMix64

    init(seed: UInt64, name: String) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a of the name
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        generator = SplitMix64(seed: seed ^ hash)
    }

    mutating func next() -> UInt64 { generator.next() }

    /// Uniform in [0, 1) with 53 random bits.
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// `count` values from U(−bound, bound).
    mutating func uniform(_ count: Int, bound: Double) -> [Float] {
        (0..<count).map { _ in Float((unit() * 2 - 1) * bound) }
    }

    /// `count` values from N(0, std²) truncated to [−2, 2] (absolute bounds, as `trunc_normal_`),
    /// by rejection on Box–Muller draws.
    mutating func truncatedNormal(_ count: Int, std: Double) -> [Float] {
        var values: [Float] = []
        values.reserveCapacity(count)
        while values.count < count {
            let r = (-2 * log(max(unit(), .leastNonzeroMagnitude))).squareRoot(), theta = 2 * Double.pi * unit()
            for v in [r * cos(theta) * std, r * sin(theta) * std] where abs(v) <= 2 && values.count < count {
                values.append(Float(v))
            }
        }
        return values
    }

    /// A weight of `count` values and its bias of `biasCount` values for `fanIn` inputs.
    mutating func weightAndBias(_ count: Int, biasCount: Int, fanIn: Int,
                                _ initialization: WeightInitialization) -> (weight: [Float], bias: [Float]) {
        switch initialization {
        case .kaimingUniform:
            let bound = 1 / Double(fanIn).squareRoot()
            return (uniform(count, bound: bound), uniform(biasCount, bound: bound))
        case .truncatedNormal(let std):
            return (truncatedNormal(count, std: Double(std)), [Float](repeating: 0, count: biasCount))
        }
    }
}
