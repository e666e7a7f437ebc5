// 2-D convolution, as torch.nn.Conv2d (square kernel, stride and padding; no dilation, one group).
import SSLCore

/// `y = conv2d(x, W) + b`: weight `(Cout, Cin, k, k)`, bias `(Cout)`, input `(N, Cin, H, W)`,
/// output `(N, Cout, OH, OW)` with `OH = ⌊(H + 2·padding − k)/stride⌋ + 1`.
///
/// Forward and backward are `LayerOps.conv2d(_:weight:stride:padding:)` and
/// `LayerOps.conv2dBackward(_:weight:dY:stride:padding:addingInto:)` (im2col + GEMM on the
/// device); the bias is a per-channel add and its gradient the per-channel sum of dY.
public final class Conv2d: Layer {
    public let name: String
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int
    /// `name.weight`, `(Cout, Cin, k, k)`.
    public let weight: Parameter
    /// `name.bias`, `(Cout)`, or nil (ResNets' convolutions have none).
    public let bias: Parameter?
    let backend: any Backend

    /// - Parameters:
    ///   - name: the prefix of the parameter names (`name.weight`, `name.bias`).
    ///   - inChannels: Cin.
    ///   - outChannels: Cout.
    ///   - kernel: the square kernel's side k.
    ///   - stride: 1 by default, as PyTorch.
    ///   - padding: 0 by default, as PyTorch.
    ///   - bias: PyTorch's default is true.
    ///   - seed: with the name, fixes the initial values: PyTorch's default kaiming-uniform,
    ///     U(±1/√(Cin·k²)) for weight and bias.
    ///   - backend: where the parameters live.
    public init(name: String, inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, seed: UInt64, on backend: any Backend) throws {
        guard inChannels > 0, outChannels > 0, kernel > 0 else {
            throw SSLError.invalidArgument(op: "Conv2d \(name)", detail: "channels and kernel must be positive, "
                                           + "got \(inChannels) → \(outChannels), kernel \(kernel)")
        }
        guard stride >= 1, padding >= 0 else {
            throw SSLError.invalidArgument(op: "Conv2d \(name)", detail: "stride must be ≥ 1 and padding ≥ 0, got \(stride) and \(padding)")
        }
        let fanIn = inChannels * kernel * kernel
        try HostMemory.require([outChannels, inChannels, kernel, kernel], what: "Conv2d \(name)'s weight")
        var rng = LayerRandom(seed: seed, name: name)
        let values = rng.weightAndBias(outChannels * fanIn, biasCount: outChannels, fanIn: fanIn, .kaimingUniform)
        self.name = name
        (self.inChannels, self.outChannels, self.kernel, self.stride, self.padding) = (inChannels, outChannels, kernel, stride, padding)
        self.backend = backend
        weight = try Parameter(name: qualified(name, "weight"), values: values.weight,
                               shape: [outChannels, inChannels, kernel, kernel], isBiasOrNorm: false, on: backend)
        self.bias = bias ? try Parameter(name: qualified(name, "bias"), values: values.bias, shape: [outChannels],
                                         isBiasOrNorm: true, on: backend) : nil
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    struct Cache: LayerCache { let x: Tensor }

    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) {
        guard x.rank == 4, x.shape[1] == inChannels else {
            throw SSLError.shapeMismatch(op: "Conv2d \(name)", detail: "x must be (N, \(inChannels), H, W), got \(shapeDescription(x.shape))")
        }
        let y = try backend.conv2d(x, weight: weight.value, stride: stride, padding: padding)
        if let bias { try backend.addBias(bias.value, to: y) }
        return (y, Cache(x: x))
    }

    public func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor {
        let x = try layerCache(cache, as: Cache.self, layer: name).x
        let dX = try backend.conv2dBackward(x, weight: weight.value, dY: dY, stride: stride, padding: padding,
                                            addingInto: weight.gradient)
        if let bias { try backend.biasBackward(dY, addingInto: bias.gradient) }
        return dX
    }

    /// dW and db without dX (a network's first layer).
    public func backwardParameters(_ cache: LayerCache, _ dY: Tensor) throws {
        let x = try layerCache(cache, as: Cache.self, layer: name).x
        try backend.conv2dWeightGradient(x, dY: dY, stride: stride, padding: padding, addingInto: weight.gradient)
        if let bias { try backend.biasBackward(dY, addingInto: bias.gradient) }
    }
}
