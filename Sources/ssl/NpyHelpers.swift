// .npy helpers for the commands: inputs refuse NaN and Inf, outputs are checked before writing.
import Foundation
import SSLCommandLine
import SSLCore

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
