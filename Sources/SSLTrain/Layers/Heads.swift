// Projector and predictor heads of the joint-embedding methods, as their official code builds
// them: one configurable MLP (Barlow Twins, VICReg, SimCLR, BYOL, SimSiam, SwAV's projection) and
// DINO's head; SwAV's prototypes are a bias-free Linear (see Backend.l2NormalizeInPlace).
import SSLCore

/// An MLP head: `Linear → [BatchNorm1d] → activation` for each hidden width, then a last
/// `Linear`, optionally followed by a parameter-free `BatchNorm1d(affine=False)`. Layers are
/// named by their index, as in a PyTorch `nn.Sequential` (`projector.0.weight`, `projector.1.weight`, …).
///
/// The presets follow the official code:
///
/// | preset | official code |
/// |---|---|
/// | ``barlowTwins(name:inputDimension:dims:seed:on:)`` | `Linear(bias=False), BN, ReLU` ×2, `Linear(bias=False)`; 8192-8192-8192 |
/// | ``vicreg(name:inputDimension:dims:seed:on:)`` | `Linear, BN, ReLU` ×2, `Linear(bias=False)`; 8192-8192-8192 |
/// | ``simclr(name:inputDimension:outputDimension:seed:on:)`` | `Linear, ReLU, Linear` (hidden = input) |
/// | ``byol(name:inputDimension:hiddenDimension:outputDimension:seed:on:)`` | `Linear, BN, ReLU, Linear`; 4096 → 256, projector and predictor |
/// | ``simsiamProjector(name:inputDimension:outputDimension:seed:on:)`` | `Linear(bias=False), BN, ReLU` ×2, `Linear`, `BN(affine=False)` |
/// | ``simsiamPredictor(name:dimension:hiddenDimension:seed:on:)`` | `Linear(bias=False), BN, ReLU, Linear`; 2048 → 512 → 2048 |
///
/// SimSiam's projector keeps its last Linear's bias frozen (`fc[6].bias.requires_grad = False`)
/// before a batch norm that removes it anyway; here that Linear has no bias, the same function.
public final class MLPHead: FeatureLayer {
    public let dims: [Int]
    public var outputDimension: Int { dims.last! }
    let body: Sequential

    /// The hidden layers' activation.
    public enum Activation { case relu, gelu }

    /// - Parameters:
    ///   - name: the prefix of the parameter names; layers are numbered as `nn.Sequential`'s.
    ///   - dims: the input size, the hidden widths, the output size; at least two entries.
    ///   - batchNormHidden: a BatchNorm1d after each hidden Linear.
    ///   - batchNormLast: a BatchNorm1d without affine after the last Linear (SimSiam).
    ///   - biasHidden: biases of the hidden Linears (PyTorch's default true).
    ///   - biasLast: bias of the last Linear.
    ///   - activation: of the hidden layers, ReLU or GELU (DINO).
    ///   - initialization: of the Linears' weights.
    ///   - seed: with each layer's name, fixes its initial values.
    ///   - backend: where the parameters live.
    public init(name: String = "", dims: [Int], batchNormHidden: Bool, batchNormLast: Bool, biasHidden: Bool = true,
                biasLast: Bool, activation: Activation = .relu, initialization: WeightInitialization = .kaimingUniform,
                seed: UInt64, on backend: any Backend) throws {
        guard dims.count >= 2, dims.allSatisfy({ $0 > 0 }) else {
            throw SSLError.invalidArgument(op: "MLPHead", detail: "dims must be the input size and at least one positive width, got \(dims)")
        }
        self.dims = dims
        var layers: [any Layer] = []
        func next() -> String { qualified(name, "\(layers.count)") }
        for i in 1..<dims.count {
            let last = i == dims.count - 1
            layers.append(try Linear(name: next(), inFeatures: dims[i - 1], outFeatures: dims[i],
                                     bias: last ? biasLast : biasHidden, initialization: initialization, seed: seed, on: backend))
            if last {
                if batchNormLast { layers.append(try BatchNorm1d(name: next(), features: dims[i], affine: false, on: backend)) }
            } else {
                if batchNormHidden { layers.append(try BatchNorm1d(name: next(), features: dims[i], on: backend)) }
                layers.append(activation == .relu ? ReLU(on: backend) : GELU(on: backend))
            }
        }
        body = Sequential(layers)
    }

    public var parameters: [Parameter] { body.parameters }
    public var buffers: [NamedBuffer] { body.buffers }
    public func setTraining(_ training: Bool) { body.setTraining(training) }
    public var sublayers: [any Layer] { [body] }
    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) { try body.forward(x) }
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try body(x) }
    public func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor { try body.backward(cache, dY) }

    /// Barlow Twins' projector (facebookresearch/barlowtwins `main.py`, `--projector 8192-8192-8192`).
    public static func barlowTwins(name: String = "projector", inputDimension: Int, dims: [Int] = [8192, 8192, 8192],
                                   seed: UInt64, on backend: any Backend) throws -> MLPHead {
        try MLPHead(name: name, dims: [inputDimension] + dims, batchNormHidden: true, batchNormLast: false,
                    biasHidden: false, biasLast: false, seed: seed, on: backend)
    }

    /// VICReg's expander (facebookresearch/vicreg `main_vicreg.py`, `Projector`, `--mlp 8192-8192-8192`).
    public static func vicreg(name: String = "projector", inputDimension: Int, dims: [Int] = [8192, 8192, 8192],
                              seed: UInt64, on backend: any Backend) throws -> MLPHead {
        try MLPHead(name: name, dims: [inputDimension] + dims, batchNormHidden: true, batchNormLast: false,
                    biasHidden: true, biasLast: false, seed: seed, on: backend)
    }

    /// SimCLR's 2-layer projection head `Linear(d, d), ReLU, Linear(d, out)` (out 128 in the paper).
    public static func simclr(name: String = "projector", inputDimension: Int, outputDimension: Int = 128,
                              seed: UInt64, on backend: any Backend) throws -> MLPHead {
        try MLPHead(name: name, dims: [inputDimension, inputDimension, outputDimension], batchNormHidden: false,
                    batchNormLast: false, biasLast: true, seed: seed, on: backend)
    }

    /// BYOL's projector and predictor, `MLP(4096, 256)`: `Linear, BN, ReLU, Linear` (Grill et al. 2020, §3.3).
    public static func byol(name: String, inputDimension: Int, hiddenDimension: Int = 4096, outputDimension: Int = 256,
                            seed: UInt64, on backend: any Backend) throws -> MLPHead {
        try MLPHead(name: name, dims: [inputDimension, hiddenDimension, outputDimension], batchNormHidden: true,
                    batchNormLast: false, biasLast: true, seed: seed, on: backend)
    }

    /// SimSiam's 3-layer projector (facebookresearch/simsiam `builder.py`): hidden widths equal
    /// to the input, output 2048, ending with `BatchNorm1d(dim, affine=False)`.
    public static func simsiamProjector(name: String = "projector", inputDimension: Int, outputDimension: Int = 2048,
                                        seed: UInt64, on backend: any Backend) throws -> MLPHead {
        try MLPHead(name: name, dims: [inputDimension, inputDimension, inputDimension, outputDimension],
                    batchNormHidden: true, batchNormLast: true, biasHidden: false, biasLast: false, seed: seed, on: backend)
    }

    /// SimSiam's predictor: `Linear(dim, 512, bias=False), BN, ReLU, Linear(512, dim)`.
    public static func simsiamPredictor(name: String = "predictor", dimension: Int = 2048, hiddenDimension: Int = 512,
                                        seed: UInt64, on backend: any Backend) throws -> MLPHead {
        try MLPHead(name: name, dims: [dimension, hiddenDimension, dimension], batchNormHidden: true, batchNormLast: false,
                    biasHidden: false, biasLast: true, seed: seed, on: backend)
    }
}

/// DINO's projection head (facebookresearch/dino `vision_transformer.py`, `DINOHead`): an MLP
/// `in → hidden → … → bottleneck` with GELU (and optional BN), weights `trunc_normal_(std=.02)`,
/// biases 0; then `F.normalize(x, dim=-1, p=2)`; then a ``WeightNormLinear`` `bottleneck → out`
/// with g fixed to 1 (`norm_last_layer=True`). Names: `name.mlp.0.weight`, …, `name.last_layer.weight_v`.
public final class DINOHead: FeatureLayer {
    public let outputDimension: Int
    let mlp: MLPHead
    let lastLayer: WeightNormLinear
    let backend: any Backend
    /// F.normalize's eps.
    static let eps: Float = 1e-12

    /// - Parameters: DINO's defaults: out 65536, hidden 2048, bottleneck 256, 3 layers, no BN.
    public init(name: String = "head", inputDimension: Int, outputDimension: Int = 65536, hiddenDimension: Int = 2048,
                bottleneckDimension: Int = 256, layers: Int = 3, batchNorm: Bool = false, seed: UInt64,
                on backend: any Backend) throws {
        guard layers >= 1 else { throw SSLError.invalidArgument(op: "DINOHead", detail: "layers must be ≥ 1, got \(layers)") }
        let hidden = [Int](repeating: hiddenDimension, count: layers - 1)
        mlp = try MLPHead(name: qualified(name, "mlp"), dims: [inputDimension] + hidden + [bottleneckDimension],
                          batchNormHidden: batchNorm, batchNormLast: false, biasLast: true, activation: .gelu,
                          initialization: .truncatedNormal(std: 0.02), seed: seed, on: backend)
        lastLayer = try WeightNormLinear(name: qualified(name, "last_layer"), inFeatures: bottleneckDimension,
                                         outFeatures: outputDimension, seed: seed, on: backend)
        self.outputDimension = outputDimension
        self.backend = backend
    }

    public var parameters: [Parameter] { mlp.parameters + lastLayer.parameters }
    public var buffers: [NamedBuffer] { mlp.buffers }
    public func setTraining(_ training: Bool) { mlp.setTraining(training) }
    public var sublayers: [any Layer] { [mlp, lastLayer] }

    struct Cache: LayerCache { let mlp: LayerCache, bottleneck: Tensor, last: LayerCache }

    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) {
        let (z, mlpCache) = try mlp.forward(x)
        let (y, lastCache) = try lastLayer.forward(try backend.l2Normalize(z, eps: Self.eps))
        return (y, Cache(mlp: mlpCache, bottleneck: z, last: lastCache))
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor { try lastLayer(try backend.l2Normalize(try mlp(x), eps: Self.eps)) }

    public func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor {
        let c = try layerCache(cache, as: Cache.self, layer: "DINOHead")
        let dNormalized = try lastLayer.backward(c.last, dY)
        return try mlp.backward(c.mlp, try backend.l2NormalizeBackward(c.bottleneck, dNormalized, eps: Self.eps))
    }
}

extension Linear {
    /// SwAV's prototypes, `nn.Linear(features, prototypes, bias=False)` (facebookresearch/swav
    /// `resnet50.py`, 3000 prototypes by default); the trainer normalises the weight's rows in
    /// place before each step with `Backend.l2NormalizeInPlace(_:eps:)`.
    public static func swavPrototypes(name: String = "prototypes", features: Int, prototypes: Int = 3000,
                                      seed: UInt64, on backend: any Backend) throws -> Linear {
        try Linear(name: name, inFeatures: features, outFeatures: prototypes, bias: false, seed: seed, on: backend)
    }
}
