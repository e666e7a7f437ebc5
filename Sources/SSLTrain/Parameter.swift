// A trainable tensor and its gradient: what layers own and optimizers update.
import SSLCore

/// A trainable tensor with its gradient, both on the same backend.
///
/// Layers create their parameters and **add** into `gradient` in their backward passes
/// (llm.c style), so gradients from several forward passes (two views, several crops) sum up;
/// the trainer zeroes them before each step. Optimizers read `gradient` and update `value` in place.
public final class Parameter {
    /// A dotted path such as `encoder.block1.conv1.weight`: the key in checkpoints.
    public let name: String
    public let value: Tensor
    public let gradient: Tensor
    /// Biases and normalisation scales/shifts: the official LARS and SGD setups exclude these
    /// from weight decay and from LARS's trust-ratio adaptation.
    public let isBiasOrNorm: Bool

    /// - Throws: when `value` and `gradient` differ in shape.
    public init(name: String, value: Tensor, gradient: Tensor, isBiasOrNorm: Bool) throws {
        guard value.shape == gradient.shape else {
            throw SSLError.shapeMismatch(op: "Parameter \(name)", detail: "value \(value.shape) and gradient \(gradient.shape) "
                                         + "must share one shape")
        }
        self.name = name
        self.value = value
        self.gradient = gradient
        self.isBiasOrNorm = isBiasOrNorm
    }

    /// A parameter holding `values`, with a zero gradient, on `backend`.
    public convenience init(name: String, values: [Float], shape: [Int], isBiasOrNorm: Bool,
                            on backend: any Backend) throws {
        try self.init(name: name, value: try backend.upload(values, shape: shape),
                  gradient: try backend.zeros(shape), isBiasOrNorm: isBiasOrNorm)
    }

    public var shape: [Int] { value.shape }

    /// Sets the gradient to zero.
    public func zeroGradient(on backend: any Backend) throws {
        try backend.fill(gradient, with: 0)
    }
}
