// Small conveniences a user meets first: printing a tensor, reading a scalar, calling a layer.
import Foundation
import SSLCore
import SSLTrain
import Testing

/// The reference backend and, where one exists, the OpenCL device.
let userBackends: [any Backend] = [ReferenceBackend()] + ((try? Devices.backend(for: "opencl")).map { [$0] } ?? [])

@Suite struct TensorAndLayerTests {
    @Test("a tensor prints its shape, where it lives and its first values; scalar() reads one value")
    func description() throws {
        for backend in userBackends {
            let small = try backend.upload([1, 2.5, -3], shape: [3])
            #expect("\(small)".hasPrefix("Tensor([3] on "), "\(small)")
            #expect("\(small)".hasSuffix(": 1.0, 2.5, -3.0)"), "\(small)")
            let large = try backend.upload((0..<20).map(Float.init), shape: [4, 5])
            #expect("\(large)".hasSuffix(": 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, … (20 values))"), "\(large)")
            let empty = "\(try backend.zeros([0, 3]))"
            #expect(empty.hasPrefix("Tensor([0, 3] on ") && !empty.contains(": "), "\(empty)")
            #expect(try backend.upload([4.25], shape: []).scalar() == 4.25)
            #expect(try large.values(limit: 3) == [0, 1, 2])
            #expect(try large.values() == (0..<20).map(Float.init))
            #expect(throws: SSLError.self) { try large.scalar() }
        }
    }

    @Test("a layer called as a function gives its forward's output; evaluating restores each batch norm's mode")
    func callAndEvaluate() throws {
        for backend in userBackends {
            let encoder = try MLPEncoder(name: "encoder", dims: [12, 8, 4], seed: 3, on: backend)
            let head = try MLPHead.simclr(inputDimension: 4, outputDimension: 3, seed: 3, on: backend)
            let network = Sequential([encoder, head])
            let x = try backend.upload((0..<60).map { Float(sin(Double($0))) }, shape: [5, 12])
            #expect(try backend.download(try network(x)) == backend.download(try network.forward(x).output))
            let norms = network.descendants.compactMap { $0 as? BatchNorm }
            #expect(!norms.isEmpty)
            head.setTraining(false)  // a mixed state: the encoder trains, the head evaluates
            let inference = try network.evaluating {
                #expect(norms.allSatisfy { !$0.training })
                return try backend.download(try network(x))
            }
            #expect(encoder.descendants.compactMap { $0 as? BatchNorm }.allSatisfy { $0.training })
            #expect(head.descendants.compactMap { $0 as? BatchNorm }.allSatisfy { !$0.training })
            network.setTraining(false)
            #expect(try backend.download(try network(x)) == inference, "evaluating is the evaluation mode")
        }
    }
}

@Suite struct ConcurrencyTests {
    @Test("tasks share a backend: concurrent ops give the results of sequential ones")
    func sharedBackend() async throws {
        for backend in userBackends {
            let a = try backend.upload((0..<(64 * 48)).map { Float(sin(Double($0))) }, shape: [64, 48])
            let expected = try backend.download(try backend.matmul(a, a, transposeB: true))
            let results = try await withThrowingTaskGroup(of: [Float].self) { group in
                for _ in 0..<8 {
                    group.addTask { try backend.download(try backend.matmul(a, a, transposeB: true)) }
                }
                return try await group.reduce(into: [[Float]]()) { $0.append($1) }
            }
            #expect(results.count == 8 && results.allSatisfy { $0 == expected }, "\(backend.name)")
            let detached = try await Task.detached { try backend.download(try backend.softmax(a)) }.value
            #expect(detached == (try backend.download(try backend.softmax(a))))
        }
    }
}

/// A user's layer written with the primitives, nothing downloaded: y = x · g, g learnable per feature.
final class FeatureScale: Layer {
    let g: Parameter
    let backend: any Backend

    init(features: Int, on backend: any Backend) throws {
        g = try Parameter(name: "scale.g", values: (0..<features).map { 1 + Float($0) / 10 }, shape: [features],
                          isBiasOrNorm: true, on: backend)
        self.backend = backend
    }

    var parameters: [Parameter] { [g] }
    struct Cache: LayerCache { let x: Tensor }

    func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) { (try backend.multiply(x, g.value), Cache(x: x)) }

    func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor {
        guard let x = (cache as? Cache)?.x else { throw SSLError.invalidArgument(op: "FeatureScale", detail: "not its cache") }
        let (dX, dG) = try backend.binaryBackward(.multiply, x, g.value, dY)  // dG: Σ over rows, g's shape
        try backend.axpby(dG, alpha: 1, beta: 1, into: g.gradient)
        return dX
    }
}

@Suite struct UserLayerTests {
    @Test("a layer written with the primitives gets the gradients of y = x · g")
    func featureScale() throws {
        for backend in userBackends {
            let layer = try FeatureScale(features: 3, on: backend)
            let x = try backend.upload([1, 2, 3, 4, 5, 6], shape: [2, 3]), dY = try backend.upload([1, 0, -1, 2, 1, 0], shape: [2, 3])
            let (y, cache) = try layer.forward(x)
            func close(_ a: [Float], _ b: [Float]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) } }
            #expect(close(try y.values(), [1, 2.2, 3.6, 4, 5.5, 7.2]))
            #expect(close(try layer.backward(cache, dY).values(), [1, 0, -1.2, 2, 1.1, 0]))
            #expect(close(try layer.g.gradient.values(), [1 + 8, 0 + 5, -3 + 0]), "Σ_rows dY · x")
        }
    }
}
