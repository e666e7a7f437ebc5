// Reading a tensor's values without its backend: for printing, scalars and quick checks.
import COpenCL
import Foundation

extension Tensor {
    /// The first `limit` values (all of them by default), read from wherever they live: a copy
    /// of host storage, or a blocking read from the device after the work enqueued before it.
    public func values(limit: Int? = nil) throws -> [Float] {
        let n = min(limit ?? count, count)
        guard n > 0 else { return [] }
        switch storage {
        case .host(let buffer):
            return Array(buffer.values.prefix(n))
        case .device(let buffer):
            var values = [Float](repeating: 0, count: n)
            try check(values.withUnsafeMutableBytes { raw in
                clEnqueueReadBuffer(buffer.context.queue, buffer.mem, cl_bool(CL_TRUE), 0, raw.count, raw.baseAddress, 0, nil, nil)
            }, "clEnqueueReadBuffer(\(n * 4) bytes)")
            return values
        }
    }

    /// The value of a one-element tensor (a loss, a count).
    /// - Throws: ``SSLError/shapeMismatch(op:detail:)`` when the tensor holds more or fewer.
    public func scalar() throws -> Float {
        guard count == 1 else {
            throw SSLError.shapeMismatch(op: "scalar", detail: "a tensor of shape \(shape) holds \(count) values, not 1")
        }
        return try values()[0]
    }
}

extension Tensor: CustomStringConvertible {
    /// The shape, where the data lives and its first values:
    /// `Tensor([2, 3] on the reference backend: 1.0, 2.0, 3.0, 4.0, 5.0, 6.0)`.
    public var description: String {
        let shown = 8
        let text: String
        do {
            let v = try values(limit: shown + 1)
            text = v.prefix(shown).map { "\($0)" }.joined(separator: ", ") + (count > shown ? ", … (\(count) values)" : "")
        } catch {
            text = "unreadable: \(error)"
        }
        return "Tensor(\(shape) on \(location)\(count == 0 ? "" : ": " + text))"
    }
}
