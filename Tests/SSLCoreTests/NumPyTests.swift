// The .npy reader and writer: files NumPy wrote (Tests/Fixtures/npy_*.npy) and invalid ones.
import Foundation
import Testing
@testable import SSLCore

@Suite struct NumPyTests {
    @Test("reads float32, float64 (converted), int32, int64, uint8, scalars and version 2.0 headers")
    func readsWhatNumPyWrites() throws {
        let expected: [Float] = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]
        for name in ["npy_float32", "npy_float64", "npy_version2"] {
            let a = try NumPy.read(Fixtures.path(name))
            #expect(a.shape == [2, 3], "\(name)")
            #expect(try a.floats() == expected, "\(name)")
        }
        #expect(try NumPy.read(Fixtures.path("npy_int32")).integers() == [3, -1, 7])
        let i64 = try NumPy.read(Fixtures.path("npy_int64"))
        #expect(i64.shape == [2, 2])
        #expect(try i64.integers() == [0, 9, -5, 1 << 40])
        let u8 = try NumPy.read(Fixtures.path("npy_uint8"))
        #expect(u8.shape == [2, 2, 3])
        #expect(try u8.integers() == (0..<12).map(Int64.init))
        let scalar = try NumPy.read(Fixtures.path("npy_scalar"))
        #expect(scalar.shape == [])
        #expect(try scalar.floats() == [1.5])
    }

    @Test("round-trips float32 and int64 through files NumPy's layout accepts")
    func roundTrip() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("npy-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let f = folder.appendingPathComponent("f.npy").path, i = folder.appendingPathComponent("i.npy").path
        let values: [Float] = [1, -2.25, .pi, 1e-30, 3e38, 0, -0, 7]
        try NumPy.write(values, shape: [2, 4], to: f)
        let back = try NumPy.read(f)
        #expect(back.shape == [2, 4] && back.dtype == .float32)
        #expect(try back.floats() == values)
        try NumPy.write([Int64.min, -1, 0, Int64.max], shape: [4], to: i)
        #expect(try NumPy.read(i).integers() == [Int64.min, -1, 0, Int64.max])
        // NumPy requires the data to start on a 64-byte boundary, the header to end in '\n'.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: f)))
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect((10 + headerLength) % 64 == 0 && bytes[10 + headerLength - 1] == 0x0A)
        try NumPy.write([Float(5)], shape: [], to: f)
        #expect(try NumPy.read(f).shape == [])
    }

    @Test("invalid files are errors that name the file and the reason", arguments: [
        ("npy_fortran", "Fortran"), ("npy_bigendian", "big-endian"), ("npy_truncated", "truncated"),
        ("npy_badmagic", "magic"), ("npy_badheader", "malformed header"), ("npy_complex", "unsupported dtype"),
        ("does_not_exist", "no such file"),
    ])
    func invalidFiles(_ c: (String, String)) throws {
        let path = Fixtures.path(c.0)
        let error = #expect(throws: SSLError.self) { _ = try NumPy.read(path).floats() }
        let message = error?.description ?? ""
        #expect(message.contains(path) && message.contains(c.1), "\(message)")
    }

    @Test("wrong rank and wrong kind of dtype are errors naming the file")
    func wrongRankOrKind() throws {
        let path = Fixtures.path("npy_float32")
        let rank = #expect(throws: SSLError.self) { _ = try NumPy.readFloats(path, rank: 1) }
        #expect(rank?.description.contains("expected a 1-D array, got shape (2, 3)") == true, "\(rank?.description ?? "")")
        #expect(throws: SSLError.self) { _ = try NumPy.read(path).integers() }
        #expect(throws: SSLError.self) { _ = try NumPy.read(Fixtures.path("npy_int64")).floats() }
    }

    @Test("trailing bytes after the data are refused")
    func trailingBytes() throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("npy_float32"))))
        bytes += [0, 0, 0, 0]
        #expect(throws: SSLError.self) { _ = try NumPy.parse(bytes, source: "padded.npy") }
    }

    @Test("writing refuses values that do not fill the shape")
    func writeCountMismatch() {
        #expect(throws: SSLError.self) { try NumPy.write([Float(1), 2, 3], shape: [2, 2], to: "/tmp/never-written.npy") }
    }
}
