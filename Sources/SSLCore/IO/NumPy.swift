// NumPy .npy files (format versions 1.0, 2.0 and 3.0), read and written without NumPy.
//
// Layout: "\x93NUMPY", major, minor, header length (u16 LE for 1.x, u32 LE for 2.x/3.x), then a
// Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with
// spaces and a newline, then the raw little-endian data in C order.
import Foundation

/// Element types this library reads; everything is little-endian.
public enum NpyDType: String, CaseIterable {
    case float32 = "<f4", float64 = "<f8", int32 = "<i4", int64 = "<i8", uint8 = "|u1"

    var itemSize: Int {
        switch self {
        case .uint8: return 1
        case .float32, .int32: return 4
        case .float64, .int64: return 8
        }
    }

    var isFloat: Bool { self == .float32 || self == .float64 }
}

/// An array read from a `.npy` file: its shape, element type and raw little-endian data.
public struct NpyArray {
    public let shape: [Int]
    public let dtype: NpyDType
    /// The file it came from, for error messages.
    public let source: String
    let data: [UInt8]

    public var count: Int { shape.reduce(1, *) }

    /// The values as Float; float64 is rounded, integer types are refused.
    public func floats() throws -> [Float] {
        switch dtype {
        case .float32: return decode(UInt32.self) { Float(bitPattern: $0) }
        case .float64: return decode(UInt64.self) { Float(Double(bitPattern: $0)) }
        default:
            throw SSLError.npy(file: source, reason: "dtype \(dtype.rawValue) is not a float array (expected <f4 or <f8)")
        }
    }

    /// The values as Int64; float types are refused.
    public func integers() throws -> [Int64] {
        switch dtype {
        case .int32: return decode(UInt32.self) { Int64(Int32(bitPattern: $0)) }
        case .int64: return decode(UInt64.self) { Int64(bitPattern: $0) }
        case .uint8: return data.map { Int64($0) }
        default:
            throw SSLError.npy(file: source, reason: "dtype \(dtype.rawValue) is not an integer array (expected <i4, <i8 or |u1)")
        }
    }

    /// Throws unless the array has `rank` dimensions.
    public func requireRank(_ rank: Int, name: String? = nil) throws {
        guard shape.count == rank else {
            throw SSLError.npy(file: source, reason: "\(name.map { $0 + ": " } ?? "")expected a \(rank)-D array, got shape \(shapeText(shape))")
        }
    }

    private func decode<Word: FixedWidthInteger, T>(_: Word.Type, _ convert: (Word) -> T) -> [T] {
        data.withUnsafeBytes { raw in
            (0..<count).map { convert(Word(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<Word>.size, as: Word.self))) }
        }
    }
}

/// Reading and writing `.npy` files.
public enum NumPy {
    private static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// Reads a `.npy` file.
    ///
    /// - Throws: ``SSLError/npy(file:reason:)`` naming `path` for a missing file, a bad magic or
    ///   header, Fortran order, a big-endian or unsupported dtype, truncated or trailing data.
    public static func read(_ path: String) throws -> NpyArray {
        guard let contents = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file"
            throw SSLError.npy(file: path, reason: reason)
        }
        return try parse([UInt8](contents), source: path)
    }

    /// Reads a float array of the given rank.
    public static func readFloats(_ path: String, rank: Int) throws -> (values: [Float], shape: [Int]) {
        let array = try read(path)
        try array.requireRank(rank)
        return (try array.floats(), array.shape)
    }

    /// Parses the bytes of a `.npy` file; `source` names it in errors.
    public static func parse(_ bytes: [UInt8], source: String) throws -> NpyArray {
        func fail(_ reason: String) -> SSLError { .npy(file: source, reason: reason) }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw fail("not a .npy file (missing the \\x93NUMPY magic)")
        }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw fail("unsupported .npy format version \(major).\(bytes[7])")
        }
        guard bytes.count >= headerStart + headerLength else { throw fail("truncated header") }
        let headerBytes = bytes[headerStart..<(headerStart + headerLength)]
        guard let header = String(bytes: headerBytes, encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw fail("header is not text")
        }
        var parser = HeaderParser(header, fail: fail)
        let fields = try parser.dictionary()

        guard case .string(let descr)? = fields["descr"] else { throw fail("header has no 'descr' string") }
        guard case .bool(let fortran)? = fields["fortran_order"] else { throw fail("header has no 'fortran_order' flag") }
        guard case .tuple(let shape)? = fields["shape"] else { throw fail("header has no 'shape' tuple") }
        if fortran { throw fail("Fortran-ordered arrays are not supported; save with np.ascontiguousarray") }
        // '=' (native) is little-endian on every platform this runs on; a byte has no order.
        var normalized = descr.hasPrefix("=") ? "<" + descr.dropFirst() : descr
        if normalized == "<u1" { normalized = "|u1" }
        guard let dtype = NpyDType(rawValue: normalized) else {
            if descr.hasPrefix(">") { throw fail("big-endian dtype \(descr) is not supported; convert with arr.astype('<\(descr.dropFirst())')") }
            throw fail("unsupported dtype \(descr) (supported: <f4, <f8, <i4, <i8, |u1)")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw fail("negative dimension in shape \(shapeText(shape))") }
        let (count, overflow) = shape.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        let (expected, overflow2) = count.multipliedReportingOverflow(by: dtype.itemSize)
        guard !overflow, !overflow2 else { throw fail("shape \(shapeText(shape)) is too large") }
        let dataStart = headerStart + headerLength
        let available = bytes.count - dataStart
        if available < expected {
            throw fail("truncated data: shape \(shapeText(shape)) of \(descr) needs \(expected) bytes, the file holds \(available)")
        }
        if available > expected {
            throw fail("\(available - expected) unexpected bytes after the data of shape \(shapeText(shape))")
        }
        return NpyArray(shape: shape, dtype: dtype, source: source, data: Array(bytes[dataStart...]))
    }

    // MARK: - Writing

    /// Writes float32 values as a `.npy` file, atomically.
    public static func write(_ values: [Float], shape: [Int], to path: String) throws {
        try AtomicFile.write(Data(try encode(values, shape: shape, source: path)), to: URL(fileURLWithPath: path))
    }

    /// Writes int64 values as a `.npy` file, atomically.
    public static func write(_ values: [Int64], shape: [Int], to path: String) throws {
        try AtomicFile.write(Data(try encode(values, shape: shape, source: path)), to: URL(fileURLWithPath: path))
    }

    /// The bytes of a float32 `.npy` file; `source` names it in errors.
    public static func encode(_ values: [Float], shape: [Int], source: String) throws -> [UInt8] {
        try checkCount(values.count, shape, source)
        var bytes = header(descr: NpyDType.float32.rawValue, shape: shape)
        bytes.reserveCapacity(bytes.count + values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        return bytes
    }

    /// The bytes of an int64 `.npy` file; `source` names it in errors.
    public static func encode(_ values: [Int64], shape: [Int], source: String) throws -> [UInt8] {
        try checkCount(values.count, shape, source)
        var bytes = header(descr: NpyDType.int64.rawValue, shape: shape)
        bytes.reserveCapacity(bytes.count + values.count * 8)
        for v in values { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        return bytes
    }

    private static func checkCount(_ count: Int, _ shape: [Int], _ path: String) throws {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == count else {
            throw SSLError.npy(file: path, reason: "\(count) values do not fill shape \(shapeText(shape))")
        }
    }

    /// A version 1.0 header, padded so the data starts on a 64-byte boundary as NumPy does.
    static func header(descr: String, shape: [Int]) -> [UInt8] {
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText(shape)), }"
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let length = dict.utf8.count
        return magic + [1, 0, UInt8(length & 0xff), UInt8(length >> 8)] + Array(dict.utf8)
    }
}

/// A parser for the header's Python dict literal: string keys; string, bool or int-tuple values.
private struct HeaderParser {
    enum Value { case string(String), bool(Bool), tuple([Int]) }

    private let chars: [Character]
    private var i = 0
    private let fail: (String) -> SSLError

    init(_ text: String, fail: @escaping (String) -> SSLError) {
        self.chars = Array(text)
        self.fail = fail
    }

    mutating func dictionary() throws -> [String: Value] {
        var result: [String: Value] = [:]
        try expect("{")
        while true {
            skipSpace()
            if peek == "}" { i += 1; return result }
            let key = try string()
            try expect(":")
            result[key] = try value()
            skipSpace()
            if peek == "," { i += 1; continue }
            try expect("}")
            return result
        }
    }

    private var peek: Character? { i < chars.count ? chars[i] : nil }

    private mutating func skipSpace() { while let c = peek, c.isWhitespace { i += 1 } }

    private mutating func expect(_ c: Character) throws {
        skipSpace()
        guard peek == c else { throw fail("malformed header: expected '\(c)' at offset \(i)") }
        i += 1
    }

    private mutating func string() throws -> String {
        skipSpace()
        guard let quote = peek, quote == "'" || quote == "\"" else {
            throw fail("malformed header: expected a quoted string at offset \(i)")
        }
        i += 1
        var s = ""
        while let c = peek, c != quote { s.append(c); i += 1 }
        guard peek == quote else { throw fail("malformed header: unterminated string") }
        i += 1
        return s
    }

    private mutating func value() throws -> Value {
        skipSpace()
        switch peek {
        case "'", "\"": return .string(try string())
        case "(":
            i += 1
            var dims: [Int] = []
            while true {
                skipSpace()
                if peek == ")" { i += 1; return .tuple(dims) }
                var digits = ""
                while let c = peek, c.isNumber || c == "-" { digits.append(c); i += 1 }
                // NumPy may write dimensions with an L suffix in old Python 2 files.
                if peek == "L" { i += 1 }
                guard let d = Int(digits) else { throw fail("malformed header: bad dimension in shape at offset \(i)") }
                dims.append(d)
                skipSpace()
                if peek == "," { i += 1 }
            }
        default:
            for (word, flag) in [("True", true), ("False", false)] where chars[i...].starts(with: word) {
                i += word.count
                return .bool(flag)
            }
            throw fail("malformed header: unexpected value at offset \(i)")
        }
    }
}
