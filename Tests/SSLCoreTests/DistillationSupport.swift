// Helpers of the distillation tests (BYOL, SimSiam, DINO): the official-code fixtures of
// Tests/Fixtures/losses/distillation.py, and `ssl loss …` run in process.
import Foundation
import Testing
@testable import SSLCore
@testable import ssl

enum DistillationFixtures {
    /// The float32 input `Tests/Fixtures/losses/<name>.npy` on `backend`.
    static func tensor(_ name: String, on backend: any Backend) throws -> Tensor {
        let (values, shape) = try Fixtures.floats("losses/" + name)
        return try backend.upload(values, shape: shape)
    }

    /// A float64 output of the official code, `Tests/Fixtures/losses/<name>.npy`.
    static func expected(_ name: String) throws -> (values: [Double], shape: [Int]) {
        try Fixtures.doubles("losses/" + name)
    }

    /// The bound against the official code: within 1e-4 of the largest magnitude of the
    /// expected array (for the scalar loss, 1e-4 relative). Float32 inputs are exact in the
    /// fixtures, so what remains is float32 rounding of sums of ≤ 17 terms, ~1e-6 relative.
    static func expectMatches(_ values: [Float], shape: [Int], _ name: String, _ what: String,
                              sourceLocation: SourceLocation = #_sourceLocation) throws {
        let e = try expected(name)
        let scale = e.values.map(abs).max() ?? 0
        assertClose(values, e.values, shape: shape, expectedShape: e.shape, rtol: 0, atol: 1e-4 * max(scale, 1e-30),
                    "\(what) vs \(name)", sourceLocation: sourceLocation)
    }

    static func expectMatches(_ tensor: Tensor, on backend: any Backend, _ name: String,
                              sourceLocation: SourceLocation = #_sourceLocation) throws {
        try expectMatches(try backend.download(tensor), shape: tensor.shape, name, "\(backend.kind)",
                          sourceLocation: sourceLocation)
    }

    /// OpenCL against the reference: within `rtol` of the reference's largest magnitude.
    static func expectParity(_ actual: Tensor, on cl: any Backend, _ reference: Tensor, on ref: any Backend,
                             rtol: Double, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let scale = try ref.download(reference).map { abs(Double($0)) }.max() ?? 0
        try assertClose(actual, on: cl, reference, on: ref, rtol: rtol, atol: rtol * scale, what,
                        sourceLocation: sourceLocation)
    }

    /// The devices the CLI tests run on.
    static var devices: [String] { TestBackends.hasOpenCL ? ["reference", "opencl"] : ["reference"] }

    /// Runs `ssl loss …` in process with `--out` a fresh folder and `--device`; returns the folder.
    static func runLoss(_ arguments: [String], device: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-distillation-\(UUID().uuidString)")
        var command = try SSLCommand.parseAsRoot(["loss"] + arguments + ["--out", folder.path, "--device", device])
        try command.run()
        return folder
    }

    /// Compares `folder/<output>.npy` (float32) with the fixture `expected`.
    static func expectOutput(_ folder: URL, _ output: String, matches expected: String, _ what: String,
                             sourceLocation: SourceLocation = #_sourceLocation) throws {
        let array = try NumPy.read(folder.appendingPathComponent(output + ".npy").path)
        #expect(array.dtype == .float32, sourceLocation: sourceLocation)
        try expectMatches(try array.floats(), shape: array.shape, expected, "\(what) \(output).npy",
                          sourceLocation: sourceLocation)
    }

    /// The description of the error `body` throws, which must be an ``SSLError``.
    static func errorText<T>(_ body: () throws -> T) -> String? {
        do {
            _ = try body()
            return nil
        } catch let error as SSLError {
            return error.description
        } catch {
            return "not an SSLError: \(error)"
        }
    }
}
