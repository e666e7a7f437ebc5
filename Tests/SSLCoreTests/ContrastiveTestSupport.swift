// Helpers of the contrastive family's tests (NTXentTests, MoCoTests, MemoryBankTests): fixtures
// from Tests/Fixtures/losses/contrastive.py as tensors, one fixture comparison, the CLI runner.
import Foundation
import Testing
@testable import SSLCore
@testable import ssl

enum ContrastiveFixtures {
    /// A float32 input fixture `losses/<name>` uploaded to `backend`.
    static func tensor(_ name: String, on backend: any Backend) throws -> Tensor {
        let (values, shape) = try Fixtures.floats("losses/" + name)
        return try backend.upload(values, shape: shape)
    }

    static func scalar(_ name: String) throws -> Double { try Fixtures.doubles("losses/" + name).values[0] }

    static func integers(_ name: String) throws -> [Int] {
        try NumPy.read(Fixtures.path("losses/" + name)).integers().map { Int($0) }
    }

    /// The official code's float64 values within `rtol` (the issue's 1e-4), with an absolute
    /// margin of rtol · max|expected| so that gradient entries near zero are judged on the scale
    /// of their tensor rather than their own.
    static func expectClose(_ actual: Tensor, on backend: any Backend, _ name: String, rtol: Double = 1e-4,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try Fixtures.doubles("losses/" + name)
        let scale = expected.values.map(abs).max() ?? 1
        assertClose(try backend.download(actual), expected.values, shape: actual.shape, expectedShape: expected.shape,
                    rtol: rtol, atol: rtol * scale, "\(name) on \(backend.kind)", sourceLocation: sourceLocation)
    }

    /// A `.npy` file written by a CLI run against the fixture `losses/<name>`.
    static func expectFile(_ path: String, _ name: String, rtol: Double = 1e-4,
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try NumPy.read(path)
        let expected = try Fixtures.doubles("losses/" + name)
        let scale = expected.values.map(abs).max() ?? 1
        #expect(result.dtype == .float32, sourceLocation: sourceLocation)
        assertClose(try result.floats(), expected.values, shape: result.shape, expectedShape: expected.shape,
                    rtol: rtol, atol: rtol * scale, "\(path) vs \(name)", sourceLocation: sourceLocation)
    }

    /// Runs `ssl loss …` in process on every device of this run, with `--out` a fresh folder.
    static func runCLI(_ arguments: [String], _ check: (_ out: String, _ device: String) throws -> Void) throws {
        for device in allBackends.map({ $0.kind.rawValue }) {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-contrastive-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: out) }
            var command = try SSLCommand.parseAsRoot(["loss"] + arguments + ["--out", out, "--device", device])
            try command.run()
            try check(out, device)
        }
    }
}

/// The same error from every backend: runs `body` on each, expects it to throw, and checks that
/// all backends threw an equal `SSLError` whose description contains every one of `words`.
func expectSameError(_ words: [String], sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: (any Backend) throws -> Void) {
    var errors: [SSLError] = []
    for backend in allBackends {
        do {
            try body(backend)
            Issue.record("no error on \(backend.kind) (expected one mentioning \(words))", sourceLocation: sourceLocation)
        } catch let error as SSLError {
            errors.append(error)
        } catch {
            Issue.record("\(backend.kind) threw \(error), not an SSLError", sourceLocation: sourceLocation)
        }
    }
    guard let first = errors.first else { return }
    #expect(errors.allSatisfy { $0 == first }, "backends disagree: \(errors)", sourceLocation: sourceLocation)
    for word in words {
        #expect(first.description.contains(word), "\"\(first)\" does not mention \(word)", sourceLocation: sourceLocation)
    }
}
