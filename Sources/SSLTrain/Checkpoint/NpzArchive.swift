// NumPy .npz archives: a zip of .npy members, stored uncompressed, as np.savez writes them.
//
// Checkpoints use this format so that `np.load("checkpoint.npz")` opens them in Python. Only
// stored (uncompressed) members are read; np.savez_compressed archives are refused by name.
import CZlib
import Foundation
import SSLCore

/// An ordered set of named members, each the bytes of one file (`name.npy`, `meta.json`).
public struct NpzArchive {
    public private(set) var members: [(name: String, bytes: [UInt8])] = []

    public init() {}

    public mutating func add(_ name: String, bytes: [UInt8]) { members.append((name, bytes)) }

    /// Adds a float32 array as `<name>.npy`.
    public mutating func add(_ name: String, floats: [Float], shape: [Int]) throws {
        add(name + ".npy", bytes: try NumPy.encode(floats, shape: shape, source: name))
    }

    /// The member called `name`, or nil.
    public func member(_ name: String) -> [UInt8]? { members.first { $0.name == name }?.bytes }

    /// The float array stored as `<name>.npy`.
    public func floats(_ name: String, source: String) throws -> (values: [Float], shape: [Int]) {
        guard let bytes = member(name + ".npy") else {
            throw SSLError.file(path: source, reason: "the archive has no member \(name).npy")
        }
        let array = try NumPy.parse(bytes, source: "\(source):\(name).npy")
        return (try array.floats(), array.shape)
    }

    // MARK: - Zip encoding (stored members, no zip64: each member and the whole under 4 GiB)

    private static let localSignature: UInt32 = 0x0403_4b50
    private static let centralSignature: UInt32 = 0x0201_4b50
    private static let endSignature: UInt32 = 0x0605_4b50
    private static let dosDate: UInt16 = 0x21  // 1980-01-01: fixed, so equal checkpoints are equal bytes

    /// The archive as zip bytes.
    public func encoded(source: String) throws -> [UInt8] {
        var out: [UInt8] = [], central: [UInt8] = []
        for (name, bytes) in members {
            guard bytes.count < Int(UInt32.max), out.count < Int(UInt32.max) else {
                throw SSLError.file(path: source, reason: "member \(name) passes the 4 GiB limit of a zip without zip64")
            }
            let nameBytes = Array(name.utf8)
            let crc = UInt32(bytes.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) })
            let offset = UInt32(out.count)
            var local = ByteWriter()
            local.u32(Self.localSignature); local.u16(20); local.u16(0); local.u16(0); local.u16(0); local.u16(Self.dosDate)
            local.u32(crc); local.u32(UInt32(bytes.count)); local.u32(UInt32(bytes.count))
            local.u16(UInt16(nameBytes.count)); local.u16(0)
            out += local.bytes + nameBytes + bytes

            var entry = ByteWriter()
            entry.u32(Self.centralSignature); entry.u16(20); entry.u16(20); entry.u16(0); entry.u16(0); entry.u16(0)
            entry.u16(Self.dosDate); entry.u32(crc); entry.u32(UInt32(bytes.count)); entry.u32(UInt32(bytes.count))
            entry.u16(UInt16(nameBytes.count)); entry.u16(0); entry.u16(0); entry.u16(0); entry.u16(0); entry.u32(0)
            entry.u32(offset)
            central += entry.bytes + nameBytes
        }
        var end = ByteWriter()
        end.u32(Self.endSignature); end.u16(0); end.u16(0)
        end.u16(UInt16(members.count)); end.u16(UInt16(members.count))
        end.u32(UInt32(central.count)); end.u32(UInt32(out.count)); end.u16(0)
        return out + central + end.bytes
    }

    /// Parses zip bytes through the central directory, checking every member's CRC-32.
    public static func decode(_ bytes: [UInt8], source: String) throws -> NpzArchive {
        func fail(_ reason: String) -> SSLError { .file(path: source, reason: "not a readable .npz archive: \(reason)") }
        let reader = ByteReader(bytes: bytes)
        guard bytes.count >= 22, let endAt = (0...(bytes.count - 22)).reversed().first(where: {
            reader.u32(at: $0) == endSignature
        }) else { throw fail("no end-of-central-directory record (truncated?)") }
        let count = Int(reader.u16(at: endAt + 10))
        var at = Int(reader.u32(at: endAt + 16))
        var archive = NpzArchive()
        for _ in 0..<count {
            guard at + 46 <= bytes.count, reader.u32(at: at) == centralSignature else { throw fail("bad central directory") }
            let method = reader.u16(at: at + 10), crc = reader.u32(at: at + 16)
            let size = Int(reader.u32(at: at + 20)), stored = Int(reader.u32(at: at + 24))
            let nameLength = Int(reader.u16(at: at + 28))
            let extra = Int(reader.u16(at: at + 30)), comment = Int(reader.u16(at: at + 32))
            let offset = Int(reader.u32(at: at + 42))
            guard at + 46 + nameLength <= bytes.count else { throw fail("truncated central directory") }
            let name = String(decoding: bytes[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            guard method == 0, size == stored else {
                throw fail("member \(name) is compressed (np.savez_compressed); save with np.savez")
            }
            guard offset + 30 <= bytes.count, reader.u32(at: offset) == localSignature else { throw fail("bad local header of \(name)") }
            let dataStart = offset + 30 + Int(reader.u16(at: offset + 26)) + Int(reader.u16(at: offset + 28))
            guard dataStart + size <= bytes.count else { throw fail("member \(name) is truncated") }
            let data = Array(bytes[dataStart..<(dataStart + size)])
            let actual = UInt32(data.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) })
            guard actual == crc else { throw fail("member \(name) fails its CRC-32 check (corrupt file)") }
            archive.add(name, bytes: data)
            at += 46 + nameLength + extra + comment
        }
        return archive
    }
}

private struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u16(_ v: UInt16) { bytes += [UInt8(v & 0xff), UInt8(v >> 8)] }
    mutating func u32(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8((v >> (8 * UInt32(i))) & 0xff)) } }
}

private struct ByteReader {
    let bytes: [UInt8]
    func u16(at i: Int) -> UInt16 { i + 2 <= bytes.count ? UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8 : 0 }
    func u32(at i: Int) -> UInt32 {
        guard i + 4 <= bytes.count else { return 0 }
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[i + $1]) << (8 * UInt32($1)) }
    }
}
