// Helpers shared by the clustering family's tests (SwAV, DeepCluster, SeLA): fixtures of
// Tests/Fixtures/losses/clustering.py, and in-process CLI runs.
import Foundation
import Testing
@testable import SSLCore
@testable import ssl

enum ClusteringFixtures {
    static func input(_ name: String, on backend: any Backend) throws -> Tensor {
        let f = try Fixtures.floats("losses/" + name)
        return try backend.upload(f.values, shape: f.shape)
    }

    static func doubles(_ name: String) throws -> (values: [Double], shape: [Int]) {
        try Fixtures.doubles("losses/" + name)
    }

    static func integers(_ name: String) throws -> [Int] {
        try NumPy.read(Fixtures.path("losses/" + name)).integers().map(Int.init)
    }

    /// |actual − expected| ≤ tolerance · (|expected| + max|expected|): relative, with an absolute
    /// floor at the tensor's own scale for entries near zero.
    static func expect(_ actual: [Float], shape: [Int], _ name: String, tolerance: Double = 1e-4, _ what: String,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let e = try doubles(name)
        let scale = e.values.map(abs).max() ?? 0
        assertClose(actual, e.values, shape: shape, expectedShape: e.shape, rtol: tolerance, atol: tolerance * scale,
                    "\(what) vs \(name)", sourceLocation: sourceLocation)
    }

    static func expect(_ t: Tensor, on backend: any Backend, _ name: String, tolerance: Double = 1e-4,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        try expect(try backend.download(t), shape: t.shape, name, tolerance: tolerance, backend.name,
                   sourceLocation: sourceLocation)
    }
}

/// Runs the `ssl` command line in process.
enum ClusteringCLI {
    static var devices: [String] { TestBackends.hasOpenCL ? ["reference", "opencl"] : ["reference"] }

    static func run(_ arguments: [String]) throws {
        var command = try SSLCommand.parseAsRoot(arguments)
        try command.run()
    }

    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-clustering-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func read(_ folder: URL, _ name: String) throws -> (values: [Float], shape: [Int]) {
        let array = try NumPy.read(folder.appendingPathComponent(name + ".npy").path)
        return (try array.floats(), array.shape)
    }
}

/// The same error from every backend: `body` must throw an `SSLError`, and the same one on each.
func expectSameError(_ what: String, sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: (any Backend) throws -> Void) {
    var errors: [SSLError] = []
    for backend in allBackends {
        do {
            try body(backend)
            Issue.record("\(what): no error on \(backend.name)", sourceLocation: sourceLocation)
        } catch let error as SSLError {
            errors.append(error)
        } catch {
            Issue.record("\(what): \(error) is not an SSLError", sourceLocation: sourceLocation)
        }
    }
    if let first = errors.first {
        #expect(errors.allSatisfy { $0 == first }, "\(what): \(errors)", sourceLocation: sourceLocation)
    }
}
