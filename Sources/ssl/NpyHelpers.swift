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

/// Refuses an output that is one of the command's inputs, under any name (the same file by
/// device and inode, or the same path where it does not exist yet): writing it would destroy the input.
func refuseOverwriting(_ inputs: [String], with output: String) throws {
    for input in inputs where sameFile(input, output) {
        throw SSLError.file(path: output, reason: "is also the input \(input); write the result elsewhere")
    }
}

func sameFile(_ a: String, _ b: String) -> Bool {
    var sa = stat(), sb = stat()
    if stat(a, &sa) == 0 && stat(b, &sb) == 0 { return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino }
    return URL(fileURLWithPath: a).standardizedFileURL.path == URL(fileURLWithPath: b).standardizedFileURL.path
}

/// Downloads a result, refuses NaN/Inf rather than writing it, and saves it as float32 `.npy`.
func save(_ tensor: Tensor, on backend: any Backend, to path: String, what: String) throws {
    let (values, shape) = try backend.host(tensor)
    guard values.allSatisfy({ $0.isFinite }) else { throw SSLError.nonFinite(what: "the computed \(what)") }
    try NumPy.write(values, shape: shape, to: path)
}
