// Checkpoint files: .npz round trip, NumPy compatibility, corruption, shape checks.
import Foundation
import Testing
@testable import SSLTrain

private struct TestMeta: Codable, Equatable {
    var method: String
    var step: Int
}

@Suite struct CheckpointTests {
    private func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString).npz").path
    }

    @Test("tensors and metadata round-trip bit for bit, on every backend")
    func roundTrip() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let values: [Float] = [1, -2.5, .pi, 1e-38, -0, 3e38]
        try forEachBackend { backend in
            var writer = CheckpointWriter()
            try writer.add("model/fc.weight", try backend.upload(values, shape: [2, 3]), on: backend)
            try writer.add("optim/step", values: [7], shape: [])
            try writer.setMetadata(TestMeta(method: "barlow", step: 12))
            try writer.write(to: path)

            let reader = try CheckpointReader(path: path)
            #expect(Set(reader.tensorNames) == ["model/fc.weight", "optim/step"])
            #expect(try reader.metadata(TestMeta.self) == TestMeta(method: "barlow", step: 12))
            let target = try backend.zeros([2, 3])
            try reader.restore("model/fc.weight", into: target, on: backend)
            #expect(try backend.download(target).map(\.bitPattern) == values.map(\.bitPattern))
            let wrongShape = #expect(throws: SSLError.self) {
                try reader.restore("model/fc.weight", into: try backend.zeros([3, 2]), on: backend)
            }
            #expect(wrongShape?.description.contains("model/fc.weight") == true)
        }
    }

    @Test("reads what np.savez writes")
    func readsNumPySavez() throws {
        let reader = try CheckpointReader(path: Fixtures.folder.appendingPathComponent("npz_savez.npz").path)
        #expect(try reader.values("w").values == [0, 1, 2, 3, 4, 5])
        #expect(try reader.values("w").shape == [2, 3])
        #expect(try reader.values("b").values == [1.5])
    }

    @Test("a flipped byte, a truncated file or a missing file is a clear error")
    func corruption() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var writer = CheckpointWriter()
        try writer.add("x", values: (0..<64).map(Float.init), shape: [64])
        try writer.write(to: path)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[200] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let crc = #expect(throws: SSLError.self) { _ = try CheckpointReader(path: path) }
        #expect(crc?.description.contains("CRC-32") == true, "\(crc?.description ?? "")")
        try Data(bytes.prefix(100)).write(to: URL(fileURLWithPath: path))
        #expect(throws: SSLError.self) { _ = try CheckpointReader(path: path) }
        let missing = #expect(throws: SSLError.self) { _ = try CheckpointReader(path: path + ".absent") }
        #expect(missing?.description.contains("no such checkpoint") == true)
    }

    /// A run stops at a non-finite loss before saving, so a NaN in a checkpoint means damage or an
    /// edit (the CRC is then recomputed); resuming or embedding from it must say so, not blame the
    /// learning rate a step later.
    @Test("a NaN or infinite stored value is an error naming the file and the tensor", arguments: [Float.nan, -.infinity])
    func nonFiniteValues(_ bad: Float) throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var writer = CheckpointWriter()
        try writer.add("model/encoder.fc1.weight", values: [0, 1, bad, 3], shape: [2, 2])
        try writer.write(to: path)
        let reader = try CheckpointReader(path: path)
        forEachBackend { backend in
            let error = #expect(throws: SSLError.self) {
                try reader.restore("model/encoder.fc1.weight", into: try backend.zeros([2, 2]), on: backend)
            }
            #expect(error?.description.contains(path) == true
                    && error?.description.contains("tensor 'model/encoder.fc1.weight' holds \(bad) at index 2 of (2, 2)") == true,
                    "\(String(describing: error))")
        }
    }

    @Test("saving over a checkpoint replaces it whole; no temporary file is left behind")
    func atomicReplace() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("last.npz").path
        for step in 0..<3 {
            var writer = CheckpointWriter()
            try writer.add("x", values: [Float(step)], shape: [1])
            try writer.setMetadata(TestMeta(method: "simclr", step: step))
            try writer.write(to: path)
        }
        #expect(try CheckpointReader(path: path).metadata(TestMeta.self).step == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["last.npz"])
    }
}
