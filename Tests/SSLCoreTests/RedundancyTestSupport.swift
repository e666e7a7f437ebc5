// Helpers shared by the Barlow Twins and VICReg tests: fixture cases of
// Tests/Fixtures/losses/redundancy.py, in-process CLI runs, and seeded views.
import Foundation
import Testing
@testable import SSLCore
@testable import ssl

/// One case `<method>_<case>_<name>.npy` of the redundancy fixtures: float32 inputs, float64
/// outputs of the official PyTorch code (autograd gradients).
struct RedundancyCase {
    let method: String, tag: String

    func name(_ item: String) -> String { "losses/\(method)_\(tag)_\(item)" }
    func path(_ item: String) -> String { Fixtures.path(name(item)) }
    func input(_ item: String) throws -> (values: [Float], shape: [Int]) { try Fixtures.floats(name(item)) }
    func expected(_ item: String) throws -> (values: [Double], shape: [Int]) { try Fixtures.doubles(name(item)) }

    /// Uploads z1 and z2 to `backend`.
    func views(on backend: any Backend) throws -> (Tensor, Tensor) {
        let z1 = try input("z1"), z2 = try input("z2")
        return (try backend.upload(z1.values, shape: z1.shape), try backend.upload(z2.values, shape: z2.shape))
    }

    static let tags = ["n2d3", "n16d24", "n8d5"]
}

enum RedundancyCLI {
    /// Parses and runs `ssl arguments…` in this process.
    static func run(_ arguments: [String]) throws {
        var command = try SSLCommand.parseAsRoot(arguments)
        try command.run()
    }

    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-redundancy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static var devices: [String] { TestBackends.hasOpenCL ? ["reference", "opencl"] : ["reference"] }

    /// Reads `folder/<item>.npy`, checks it is float32, and returns its values and shape.
    static func output(_ folder: URL, _ item: String) throws -> (values: [Float], shape: [Int]) {
        let array = try NumPy.read(folder.appendingPathComponent(item + ".npy").path)
        #expect(array.dtype == .float32, "\(item).npy is not float32")
        return (try array.floats(), array.shape)
    }
}

extension SeededRandom {
    /// A view (N, D) with a mean and a scale per feature: even features scaled 0.3 (σ below 1),
    /// odd ones 2.5 (σ above 1), so VICReg's hinge is active for some and not for others.
    mutating func view(_ n: Int, _ d: Int) -> [Float] {
        let shift = uniform(d, scale: 2)
        return uniform(n * d, scale: 1.7).enumerated().map { i, v in
            v * (i % d % 2 == 0 ? 0.3 : 2.5) + shift[i % d]
        }
    }
}
