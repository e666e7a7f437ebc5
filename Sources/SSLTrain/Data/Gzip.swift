// Whole-file reads through zlib: gzip members are inflated, anything else passes through as is,
// so one reader serves `train-images-idx3-ubyte.gz` and its uncompressed twin.
import CZlib
import Foundation

/// Reading files through zlib's `gzopen`/`gzread`, which inflate gzip data (concatenated members
/// included) and copy other files unchanged.
public enum Gzip {
    /// Whether `bytes` start with the gzip magic 1f 8b.
    public static func isGzip(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B }

    /// The file's contents, inflated if it is gzip-compressed.
    /// - Throws: `SSLError.file(path:reason:)` for a missing or unreadable file and for
    ///   truncated or corrupt gzip data (zlib's message included).
    public static func read(_ path: String) throws -> [UInt8] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw SSLError.file(path: path, reason: "no such file")
        }
        guard !isFolder.boolValue else { throw SSLError.file(path: path, reason: "is a folder, not a file") }
        guard let file = gzopen(path, "rb") else {
            throw SSLError.file(path: path, reason: "cannot be opened: \(String(cString: strerror(errno)))")
        }
        defer { gzclose(file) }
        gzbuffer(file, 1 << 20)
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if n < 0 { break }  // the error is reported below
            if n == 0 { break }
            out += chunk[0..<Int(n)]
        }
        var status: Int32 = Z_OK
        let message = gzerror(file, &status)
        if status != Z_OK {
            let text = message.map { String(cString: $0) } ?? "zlib error \(status)"
            if status == Z_ERRNO { throw SSLError.file(path: path, reason: "read error: \(String(cString: strerror(errno)))") }
            let what = status == Z_BUF_ERROR ? "truncated gzip data" : "corrupt gzip data"
            throw SSLError.file(path: path, reason: "\(what) (\(text)) after \(out.count) inflated bytes")
        }
        return out
    }
}
