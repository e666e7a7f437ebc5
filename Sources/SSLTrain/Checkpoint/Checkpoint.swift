// Checkpoints: named tensors and JSON metadata in one .npz file, written atomically.
//
// The file is a NumPy archive (`np.load("ckpt.npz")["model/encoder.fc1.weight"]` works), written
// to a temporary file, fsynced and renamed over the old one, so a process killed while saving
// leaves the previous checkpoint intact and loadable.
import Foundation
import SSLCore

/// Collects tensors and metadata, then writes them as one checkpoint.
public struct CheckpointWriter {
    private var archive = NpzArchive()
    private var names = Set<String>()

    public init() {}

    /// Adds a tensor's current values under `name` (e.g. `model/encoder.fc1.weight`); waits for
    /// the work that produces them.
    public mutating func add(_ name: String, _ tensor: Tensor, on backend: any Backend) throws {
        try insert(name)
        try archive.add(name, floats: try backend.download(tensor), shape: tensor.shape)
    }

    /// Adds host values under `name`.
    public mutating func add(_ name: String, values: [Float], shape: [Int]) throws {
        try insert(name)
        try archive.add(name, floats: values, shape: shape)
    }

    private mutating func insert(_ name: String) throws {
        guard names.insert(name).inserted else {
            throw SSLError.invalidArgument(op: "checkpoint", detail: "entry \(name) added twice: two tensors share a name")
        }
    }

    /// Sets the metadata (configuration, epoch, step, …), stored as `meta.json`.
    public mutating func setMetadata<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        archive.add("meta.json", bytes: Array(try encoder.encode(value)))
    }

    /// Writes the checkpoint atomically (temporary file, fsync, rename).
    public func write(to path: String) throws {
        try AtomicFile.write(Data(try archive.encoded(source: path)), to: URL(fileURLWithPath: path))
    }
}

/// A checkpoint read back from disk.
public struct CheckpointReader {
    public let path: String
    private let archive: NpzArchive

    /// Reads and verifies (CRC-32 of every member) the checkpoint at `path`.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SSLError.file(path: path, reason: FileManager.default.fileExists(atPath: path)
                                ? "cannot be read" : "no such checkpoint")
        }
        self.path = path
        self.archive = try NpzArchive.decode([UInt8](data), source: path)
    }

    /// The names of the stored tensors.
    public var tensorNames: [String] {
        archive.members.map(\.name).filter { $0.hasSuffix(".npy") }.map { String($0.dropLast(4)) }
    }

    public func metadata<T: Decodable>(_ type: T.Type) throws -> T {
        guard let bytes = archive.member("meta.json") else {
            throw SSLError.file(path: path, reason: "the checkpoint has no meta.json")
        }
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw SSLError.file(path: path, reason: "meta.json does not describe a checkpoint of this version: \(error)")
        }
    }

    /// The stored values of `name`.
    /// - Throws: `SSLError.file(path:reason:)` naming the tensor when a value is NaN or
    ///   infinite: a run stops at a non-finite loss before saving, so such a checkpoint was
    ///   damaged or edited, and training or embedding from it would only spread the NaN.
    public func values(_ name: String) throws -> (values: [Float], shape: [Int]) {
        let stored = try archive.floats(name, source: path)
        if let bad = stored.values.firstIndex(where: { !$0.isFinite }) {
            throw SSLError.file(path: path, reason: "tensor '\(name)' holds \(stored.values[bad]) at index \(bad) of "
                                + "\(shapeText(stored.shape)): the checkpoint is damaged; use an earlier one or train anew")
        }
        return stored
    }

    /// Copies the stored values of `name` into `tensor`, which must have the stored shape.
    public func restore(_ name: String, into tensor: Tensor, on backend: any Backend) throws {
        let (values, shape) = try self.values(name)
        guard shape == tensor.shape else {
            throw SSLError.shapeMismatch(op: "restore \(name) from \(path)",
                                         detail: "stored \(shapeText(shape)), model has \(shapeText(tensor.shape))")
        }
        try backend.upload(values, into: tensor)
    }
}
