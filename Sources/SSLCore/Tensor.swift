// Float32 tensors: a shape and a reference to storage on one backend.
import Foundation

/// A row-major float32 tensor living on one backend: host memory on the reference backend,
/// a device buffer on the OpenCL backend.
///
/// `Tensor` is a value holding its shape and a reference to its storage, so copying a tensor
/// is cheap and shares the data; ops return new tensors. Move data between host and device
/// explicitly with ``Backend/upload(_:shape:)`` and ``Backend/download(_:)``.
///
/// ```swift
/// let backend = try Devices.backend(for: "auto")
/// let a = try backend.upload([1, 2, 3, 4, 5, 6], shape: [2, 3])
/// let c = try backend.matmul(a, a, transposeB: true)   // (2, 2)
/// print(try backend.download(c))
/// ```
///
/// A tensor may be sent between tasks (`@unchecked Sendable`, as the storage is a shared
/// reference): reading it from several tasks at once is safe, but an op that writes a tensor in
/// place (the `into:` ops, optimizer updates, batch norm's running statistics) must not run
/// while another task reads or writes the same tensor.
public struct Tensor: @unchecked Sendable {
    /// Dimensions, outermost first.
    public let shape: [Int]
    let storage: Storage

    enum Storage {
        case host(HostBuffer)
        case device(OpenCLBuffer)
    }

    init(shape: [Int], storage: Storage) {
        self.shape = shape
        self.storage = storage
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }

    /// The same data seen with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        guard newShape.allSatisfy({ $0 >= 0 }), newShape.reduce(1, *) == count else {
            throw SSLError.shapeMismatch(op: "reshape", detail: "\(shape) has \(count) elements, \(newShape) has \(newShape.reduce(1, *))")
        }
        return Tensor(shape: newShape, storage: storage)
    }

    var hostBuffer: HostBuffer? {
        if case .host(let buffer) = storage { return buffer }
        return nil
    }

    var deviceBuffer: OpenCLBuffer? {
        if case .device(let buffer) = storage { return buffer }
        return nil
    }

    /// Where the data lives, for error messages.
    var location: String {
        switch storage {
        case .host: return "the reference backend"
        case .device(let buffer): return "OpenCL device \(buffer.context.device.name)"
        }
    }
}

/// Host storage of the reference backend.
final class HostBuffer {
    var values: [Float]
    init(_ values: [Float]) { self.values = values }
}

/// A tensor made on first use and kept: an output that most callers never read (Barlow Twins'
/// C on the Gram path), so that computing it, and holding its memory, waits for the first read.
final class LazyTensor {
    private var made: Tensor?
    /// Released after the first call, with whatever it captured.
    private var make: (() throws -> Tensor)?
    private let lock = NSLock()

    init(_ tensor: Tensor) { made = tensor }
    init(_ make: @escaping () throws -> Tensor) { self.make = make }

    func value() throws -> Tensor {
        lock.lock(); defer { lock.unlock() }
        if let made { return made }
        let tensor = try make!()
        (made, make) = (tensor, nil)
        return tensor
    }
}

/// Formats a shape the way NumPy prints it: `(2, 3)`, `(5,)`, `()`.
public func shapeText(_ shape: [Int]) -> String {
    shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
}
