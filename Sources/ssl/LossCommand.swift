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

/// The output folder of a `ssl loss` run.
struct OutputFolder {
    let path: String
    /// The command's input files, which no output may replace.
    let inputs: [String]

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

    /// Writes `DIR/<name>.npy`; refuses NaN or Inf rather than writing it.
    func write(_ name: String, _ tensor: Tensor, on backend: any Backend) throws {
        try save(tensor, on: backend, to: try file(name), what: name)
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
