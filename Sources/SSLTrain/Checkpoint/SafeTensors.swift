// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a
// JSON header of every tensor's dtype, shape and byte range, then the raw little-endian data.
// PyTorch, JAX, MLX and Hugging Face load it without running code from the file.
import Foundation
import SSLCore

/// Named float32 and int64 arrays in the safetensors format.
///
/// ``encoded()`` writes what Python's `safetensors.torch.save` writes for the same tensors and
/// metadata, byte for byte: tensors ordered by dtype (int64 before float32) and then by name,
/// the header in compact JSON with `__metadata__` first, padded with spaces to a multiple of 8
/// so that the data starts aligned.
public struct SafeTensors: Equatable {
    public enum Values: Equatable {
        case float32([Float])
        case int64([Int64])

        var dtype: String {
            switch self {
            case .float32: return "F32"
            case .int64: return "I64"
            }
        }

        var count: Int {
            switch self {
            case .float32(let v): return v.count
            case .int64(let v): return v.count
            }
        }
    }

    public struct Entry: Equatable {
        public let name: String
        public let shape: [Int]
        public let values: Values
    }

    public private(set) var entries: [Entry] = []
    /// `__metadata__`: free text, e.g. `format: pt`.
    public var metadata: [String: String] = [:]

    public init(metadata: [String: String] = [:]) { self.metadata = metadata }

    /// Adds `values` of `shape`; names are unique.
    public mutating func add(_ name: String, _ values: Values, shape: [Int]) throws {
        guard !name.isEmpty, name != "__metadata__", !entries.contains(where: { $0.name == name }) else {
            throw SSLError.invalidArgument(op: "safetensors", detail: "the name '\(name)' is empty, reserved or repeated")
        }
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == values.count else {
            throw SSLError.shapeMismatch(op: "safetensors", detail: "\(name): shape \(shape) does not hold \(values.count) values")
        }
        entries.append(Entry(name: name, shape: shape, values: values))
    }

    /// The entry called `name`, or nil.
    public subscript(name: String) -> Entry? { entries.first { $0.name == name } }

    /// The file's bytes.
    public func encoded() -> [UInt8] {
        // safetensors sorts by dtype, largest alignment first, then by name.
        let ordered = entries.sorted { a, b in
            a.values.dtype != b.values.dtype ? a.values.dtype == "I64" : a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
        var header = "{", offset = 0, parts: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.keys.sorted().map { "\(Self.json($0)):\(Self.json(metadata[$0]!))" }
            parts.append("\"__metadata__\":{" + fields.joined(separator: ",") + "}")
        }
        for e in ordered {
            let bytes = e.values.count * (e.values.dtype == "I64" ? 8 : 4)
            parts.append("\(Self.json(e.name)):{\"dtype\":\"\(e.values.dtype)\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],"
                         + "\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        header += parts.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        headerBytes += [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8)
        var out: [UInt8] = []
        out.reserveCapacity(8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out += $0 }
        out += headerBytes
        for e in ordered {
            switch e.values {
            case .float32(let v): for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { out += $0 } }
            case .int64(let v): for x in v { withUnsafeBytes(of: x.littleEndian) { out += $0 } }
            }
        }
        return out
    }

    /// Writes the file atomically.
    public func write(to path: String) throws {
        try AtomicFile.write(Data(encoded()), to: URL(fileURLWithPath: path))
    }

    /// Parses a safetensors file of F32 and I64 tensors.
    /// - Throws: `SSLError.file(path:reason:)` naming what is wrong: a header longer than the
    ///   file, bad JSON, an unknown dtype, a shape that does not fit its byte range, ranges that
    ///   overlap, leave gaps or pass the end of the file.
    public init(bytes: [UInt8], source: String) throws {
        func fail(_ reason: String) -> SSLError { .file(path: source, reason: "is not a safetensors file: " + reason) }
        guard bytes.count >= 8 else { throw fail("\(bytes.count) bytes, shorter than the 8-byte header length") }
        let length = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length <= UInt64(bytes.count - 8), length <= 100_000_000 else {
            throw fail("a header of \(length) bytes in a file of \(bytes.count)")
        }
        let headerEnd = 8 + Int(length)
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd])) as? [String: Any] else {
            throw fail("its header is not a JSON object")
        }
        if let meta = json["__metadata__"] {
            guard let m = meta as? [String: String] else { throw fail("__metadata__ is not a map of strings") }
            metadata = m
        }
        var ranges: [(Range<Int>, Entry)] = []
        for (name, value) in json where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else {
                throw fail("\(name) lacks a dtype, shape or data_offsets")
            }
            let size: Int
            switch dtype {
            case "F32": size = 4
            case "I64": size = 8
            default: throw fail("\(name) has dtype \(dtype); this reader takes F32 and I64")
            }
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o || d < 0)
            }
            guard !overflow, offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] - offsets[0] == count * size,
                  offsets[1] <= bytes.count - headerEnd else {
                throw fail("\(name): shape \(shape) of \(dtype) does not fill its data_offsets \(offsets) within the file")
            }
            let start = headerEnd + offsets[0]
            let values: Values = bytes[start..<(headerEnd + offsets[1])].withUnsafeBytes { raw in
                guard size == 4 else { return .int64((0..<count).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }) }
                return .float32((0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) })
            }
            ranges.append((offsets[0]..<offsets[1], Entry(name: name, shape: shape, values: values)))
        }
        ranges.sort { ($0.0.lowerBound, $0.0.upperBound) < ($1.0.lowerBound, $1.0.upperBound) }
        var end = 0
        for (range, entry) in ranges {
            guard range.lowerBound == end else { throw fail("the data of \(entry.name) does not follow the previous tensor's") }
            end = range.upperBound
        }
        guard headerEnd + end == bytes.count else { throw fail("\(bytes.count - headerEnd - end) bytes after the last tensor") }
        entries = ranges.map(\.1)
    }

    /// A JSON string literal.
    private static func json(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
