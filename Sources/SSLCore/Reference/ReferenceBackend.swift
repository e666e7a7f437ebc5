// The CPU reference backend: plain Swift loops accumulating in Double.
//
// It is the ground truth the OpenCL kernels are tested against, so clarity beats speed here:
// each op is the textbook formula, written once.

/// Pure-Swift backend on the CPU. Values are stored as Float; every sum is accumulated in Double.
public final class ReferenceBackend: Backend {
    public let kind = BackendKind.reference
    public let name = "reference (CPU, Double accumulation)"

    public init() {}

    public func upload(_ values: [Float], shape: [Int]) throws -> Tensor {
        guard shape.allSatisfy({ $0 >= 0 }), values.count == shape.reduce(1, *) else {
            throw SSLError.shapeMismatch(op: "upload", detail: "\(values.count) values do not fill shape \(shapeText(shape))")
        }
        return Tensor(shape: shape, storage: .host(HostBuffer(values)))
    }

    public func upload(_ values: [Float], into tensor: Tensor) throws {
        guard let buffer = tensor.hostBuffer else {
            throw SSLError.wrongBackend(op: "upload", expected: "the reference backend", found: tensor.location)
        }
        guard values.count == tensor.count else {
            throw SSLError.shapeMismatch(op: "upload", detail: "\(values.count) values do not fill shape \(shapeText(tensor.shape))")
        }
        buffer.values = values
    }

    public func zeros(_ shape: [Int]) throws -> Tensor {
        try HostMemory.require(shape, what: "a tensor of shape \(shapeText(shape)) on the reference backend")
        return try upload([Float](repeating: 0, count: shape.reduce(1, *)), shape: shape)
    }

    public func download(_ tensor: Tensor) throws -> [Float] {
        try values(tensor, op: "download")
    }

    public func synchronize() throws {}

    /// The host values of a tensor of this backend.
    func values(_ tensor: Tensor, op: String) throws -> [Float] {
        guard let buffer = tensor.hostBuffer else {
            throw SSLError.wrongBackend(op: op, expected: "the reference backend", found: tensor.location)
        }
        return buffer.values
    }

    /// A new tensor from values computed on the host.
    func make(_ values: [Float], _ shape: [Int]) -> Tensor {
        Tensor(shape: shape, storage: .host(HostBuffer(values)))
    }
}
