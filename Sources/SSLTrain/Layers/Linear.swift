// Fully connected layers: Linear (y = x Wᵀ + b, as torch.nn.Linear) and DINO's weight-normalised
// last layer; both on CLBlast GEMMs.
import SSLCore

/// `y = x Wᵀ + b`, as `torch.nn.Linear`: weight `(out, in)`, bias `(out)`.
///
/// Backward (llm.c's matmul_backward): `dW += dYᵀ x` (one GEMM accumulating into the gradient,
/// beta = 1), `db += Σ_n dY`, `dX = dY W`.
///
/// ```swift
/// let fc = try Linear(name: "fc", inFeatures: 784, outFeatures: 10, seed: 1, on: backend)
/// let (y, cache) = try fc.forward(x)          // x (N, 784) → y (N, 10)
/// let dX = try fc.backward(cache, dY)
/// ```
public final class Linear: Layer {
    public let name: String
    public let inFeatures: Int, outFeatures: Int
    /// `name.weight`, `(out, in)`.
    public let weight: Parameter
    /// `name.bias`, `(out)`, or nil for `bias=False`.
    public let bias: Parameter?
    let backend: any Backend

    /// - Parameters:
    ///   - name: the prefix of the parameter names (`name.weight`, `name.bias`).
    ///   - inFeatures: the input's features.
    ///   - outFeatures: the output's features.
    ///   - bias: PyTorch's default is true.
    ///   - initialization: PyTorch's default, kaiming-uniform (U(±1/√in) for weight and bias).
    ///   - seed: with the name, fixes the initial values.
    ///   - backend: where the parameters live.
    public init(name: String, inFeatures: Int, outFeatures: Int, bias: Bool = true,
                initialization: WeightInitialization = .kaimingUniform, seed: UInt64, on backend: any Backend) throws {
        guard inFeatures > 0, outFeatures > 0 else {
            throw SSLError.invalidArgument(op: "Linear \(name)", detail: "features must be positive, got \(inFeatures) → \(outFeatures)")
        }
        try HostMemory.require([outFeatures, inFeatures], what: "Linear \(name)'s weight (\(inFeatures) → \(outFeatures))")
        var rng = LayerRandom(seed: seed, name: name)
        let values = rng.weightAndBias(outFeatures * inFeatures, biasCount: outFeatures, fanIn: inFeatures, initialization)
        self.name = name
        (self.inFeatures, self.outFeatures) = (inFeatures, outFeatures)
        self.backend = backend
        weight = try Parameter(name: qualified(name, "weight"), values: values.weight, shape: [outFeatures, inFeatures],
                               isBiasOrNorm: false, on: backend)
        self.bias = bias ? try Parameter(name: qualified(name, "bias"), values: values.bias, shape: [outFeatures],
                                         isBiasOrNorm: true, on: backend) : nil
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    struct Cache: LayerCache { let x: Tensor }

    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) {
        try checkFeatures(x.shape, inFeatures, layer: "Linear \(name)", what: "x")
        let y = try backend.matmul(x, weight.value, transposeB: true)
        if let bias { try backend.addBias(bias.value, to: y) }
        return (y, Cache(x: x))
    }

    public func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor {
        try backwardParameters(cache, dY)
        return try backend.matmul(dY, weight.value)
    }

    /// `dW += dYᵀ x`, `db += Σ_n dY`; no `dX`.
    public func backwardParameters(_ cache: LayerCache, _ dY: Tensor) throws {
        let x = try layerCache(cache, as: Cache.self, layer: name).x
        try checkFeatures(dY.shape, outFeatures, layer: "Linear \(name)", what: "dY", rows: x.shape[0])
        try backend.gemm(dY, x, transposeA: true, transposeB: false, alpha: 1, beta: 1, into: weight.gradient)
        if let bias { try backend.biasBackward(dY, addingInto: bias.gradient) }
    }
}

/// DINO's last layer: `nn.utils.weight_norm(nn.Linear(in, out, bias=False))` with `weight_g`
/// filled with 1 and frozen (`norm_last_layer=True`), so `W = v / ‖v‖` row by row and `y = x Wᵀ`.
/// The trainable tensor is `v` (`name.weight_v`, `(out, in)`), initialised as nn.Linear's weight.
///
/// Backward: `dW = dYᵀ x`, `dv = (dW − W ⟨W, dW⟩) / ‖v‖` per row (`Backend.l2NormalizeBackward(_:_:eps:)`),
/// `dX = dY W`.
public final class WeightNormLinear: Layer {
    public let name: String
    public let inFeatures: Int, outFeatures: Int
    /// `name.weight_v`, `(out, in)`.
    public let direction: Parameter
    let backend: any Backend
    /// Guards ‖v‖ = 0 (F.normalize's eps); PyTorch's weight norm has none, so a zero row is NaN there.
    static let eps: Float = 1e-12

    public init(name: String, inFeatures: Int, outFeatures: Int, seed: UInt64, on backend: any Backend) throws {
        guard inFeatures > 0, outFeatures > 0 else {
            throw SSLError.invalidArgument(op: "WeightNormLinear \(name)",
                                           detail: "features must be positive, got \(inFeatures) → \(outFeatures)")
        }
        try HostMemory.require([outFeatures, inFeatures], what: "WeightNormLinear \(name)'s weight (\(inFeatures) → \(outFeatures))")
        var rng = LayerRandom(seed: seed, name: name)
        let values = rng.weightAndBias(outFeatures * inFeatures, biasCount: 0, fanIn: inFeatures, .kaimingUniform)
        self.name = name
        (self.inFeatures, self.outFeatures) = (inFeatures, outFeatures)
        self.backend = backend
        direction = try Parameter(name: qualified(name, "weight_v"), values: values.weight, shape: [outFeatures, inFeatures],
                                  isBiasOrNorm: false, on: backend)
    }

    public var parameters: [Parameter] { [direction] }

    struct Cache: LayerCache { let x: Tensor, weight: Tensor }

    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) {
        try checkFeatures(x.shape, inFeatures, layer: "WeightNormLinear \(name)", what: "x")
        let w = try backend.l2Normalize(direction.value, eps: Self.eps)
        return (try backend.matmul(x, w, transposeB: true), Cache(x: x, weight: w))
    }

    public func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor {
        let c = try layerCache(cache, as: Cache.self, layer: name)
        try checkFeatures(dY.shape, outFeatures, layer: "WeightNormLinear \(name)", what: "dY", rows: c.x.shape[0])
        let dW = try backend.matmul(dY, c.x, transposeA: true)
        try backend.axpby(try backend.l2NormalizeBackward(direction.value, dW, eps: Self.eps), alpha: 1, beta: 1,
                          into: direction.gradient)
        return try backend.matmul(dY, c.weight)
    }
}

extension Backend {
    /// Divides each row of `weight` by its L2 norm, in place, through `Backend.l2Normalize(_:eps:)`:
    /// what SwAV's training loop does to its prototypes (`nn.Linear(D, K, bias=False)`, weight
    /// `(K, D)`) before every step (`w = F.normalize(w, dim=1, p=2); prototypes.weight.copy_(w)`).
    /// - Parameters:
    ///   - weight: `(K, D)`, overwritten.
    ///   - eps: `F.normalize`'s default, 1e-12.
    public func l2NormalizeInPlace(_ weight: Tensor, eps: Float = 1e-12) throws {
        try axpby(try l2Normalize(weight, eps: eps), alpha: 1, beta: 0, into: weight)
    }
}

/// Throws unless `shape` is `(rows, features)` (any rows > 0 when `rows` is nil).
func checkFeatures(_ shape: [Int], _ features: Int, layer: String, what: String, rows: Int? = nil) throws {
    guard shape.count == 2, shape[1] == features, shape[0] > 0, rows == nil || shape[0] == rows else {
        let expected = "(\(rows.map(String.init) ?? "N"), \(features))"
        throw SSLError.shapeMismatch(op: layer, detail: "\(what) must be \(expected), got \(shapeDescription(shape))")
    }
}

/// `(2, 3)`, as the core's messages print shapes.
func shapeDescription(_ shape: [Int]) -> String {
    shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
}
