// The --device option shared by every command that computes, and .npy helpers for the commands.
import ArgumentParser
import Foundation
import SSLCore

struct DeviceOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Where to compute: \(DeviceSpec.help).",
                                            discussion: "Default: $\(Devices.environmentVariable), else auto."))
    var device: String?

    func validate() throws {
        if let device { _ = try DeviceSpec(parsing: device) }
    }

    /// The chosen backend; says which one on standard error, so a long run shows where it runs.
    func backend() throws -> any Backend {
        let backend = try Devices.backend(for: device)
        printError("device: \(backend.name)")
        return backend
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Reads a float matrix, refusing NaN and Inf with the file's name.
func readMatrix(_ path: String, name: String) throws -> (values: [Float], shape: [Int]) {
    let array = try NumPy.read(path)
    try array.requireRank(2, name: name)
    let values = try array.floats()
    guard values.allSatisfy({ $0.isFinite }) else { throw SSLError.nonFinite(what: "\(name) (\(path))") }
    return (values, array.shape)
}

/// Downloads a result, refuses NaN/Inf rather than writing it, and saves it as float32 `.npy`.
func save(_ tensor: Tensor, on backend: any Backend, to path: String, what: String) throws {
    let (values, shape) = try backend.host(tensor)
    guard values.allSatisfy({ $0.isFinite }) else { throw SSLError.nonFinite(what: "the computed \(what)") }
    try NumPy.write(values, shape: shape, to: path)
}
