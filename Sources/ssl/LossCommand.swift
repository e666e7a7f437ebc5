// `ssl loss METHOD …`: one objective's loss and gradients on .npy inputs, written to a folder.
import ArgumentParser
import Foundation
import SSLCore

struct LossCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loss",
        abstract: "Evaluate one objective and its gradients on .npy inputs.",
        discussion: """
            Writes DIR/loss.npy (a scalar), DIR/grad_<input>.npy for each input that receives a \
            gradient, and the method's extras, all float32 and written atomically.
            """,
        subcommands: [
            BarlowLossCommand.self, VICRegLossCommand.self,
            NTXentLossCommand.self, MoCoLossCommand.self, MemoryBankLossCommand.self,
            SwAVLossCommand.self, BYOLLossCommand.self, SimSiamLossCommand.self, DINOLossCommand.self,
        ])
}

/// The output folder of a command that writes several `.npy` files (`ssl loss`, `ssl eval`, the
/// folder-writing ops): all or nothing. Every file is checked against the inputs and computed
/// (NaN and Inf refused) before the first is written, so a refused run leaves no partial output.
struct OutputFolder {
    /// One file's content.
    enum Content {
        /// float32, downloaded from the backend.
        case tensor(Tensor)
        case floats([Float], shape: [Int])
        /// int64 labels or indices, shape (N,).
        case labels([Int])
    }

    let path: String
    /// The command's input files, which no output may replace.
    let inputs: [String]

    /// Creates the folder at once, so that an unwritable one fails before the computation.
    init(_ path: String, inputs: [String]) throws {
        (self.path, self.inputs) = (path, inputs)
        try AtomicFile.createFolders(path)
    }

    /// `DIR/<name>.npy`, refused when it is one of the inputs.
    func file(_ name: String) throws -> String {
        let file = (path as NSString).appendingPathComponent(name + ".npy")
        try refuseOverwriting(inputs, with: file)
        return file
    }

    /// Writes `DIR/<name>.npy` for every file, after checking them all.
    func write(_ files: [(name: String, content: Content)], on backend: any Backend) throws {
        let paths = try files.map { try file($0.name) }
        let arrays: [(floats: [Float]?, labels: [Int64]?, shape: [Int])] = try files.map { name, content in
            switch content {
            case .labels(let labels):
                return (nil, labels.map(Int64.init), [labels.count])
            case .tensor(let tensor):
                let (values, shape) = try backend.host(tensor)
                return try (finite(values, name), nil, shape)
            case .floats(let values, let shape):
                return try (finite(values, name), nil, shape)
            }
        }
        for (file, array) in zip(paths, arrays) {
            if let floats = array.floats { try NumPy.write(floats, shape: array.shape, to: file) }
            if let labels = array.labels { try NumPy.write(labels, shape: array.shape, to: file) }
        }
    }

    private func finite(_ values: [Float], _ name: String) throws -> [Float] {
        guard values.allSatisfy({ $0.isFinite }) else { throw SSLError.nonFinite(what: "the computed \(name)") }
        return values
    }
}

/// Reads a float array of `rank` dimensions as a tensor on `backend`, refusing NaN and Inf.
func readTensor(_ path: String, name: String, rank: Int, on backend: any Backend) throws -> Tensor {
    let array = try NumPy.read(path)
    try array.requireRank(rank, name: name)
    let values = try array.floats()
    guard values.allSatisfy({ $0.isFinite }) else { throw SSLError.nonFinite(what: "\(name) (\(path))") }
    return try backend.upload(values, shape: array.shape)
}
