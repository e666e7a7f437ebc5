// Helpers of the optimizer tests: the PyTorch fixtures of Tests/Fixtures/optim/optim.py, a
// two-parameter model (a weight and a bias), and writing gradients into parameters.
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

enum OptimFixtures {
    /// A float32 input, `Tests/Fixtures/optim/<name>.npy`.
    static func input(_ name: String) throws -> (values: [Float], shape: [Int]) {
        try Fixtures.floats("optim/" + name)
    }

    /// A float64 output of PyTorch or the official code.
    static func expected(_ name: String) throws -> (values: [Double], shape: [Int]) {
        try Fixtures.doubles("optim/" + name)
    }

    /// Row `t` of a trajectory saved as (steps, ...).
    static func row(_ array: (values: [Double], shape: [Int]), _ t: Int) -> (values: [Double], shape: [Int]) {
        let shape = Array(array.shape.dropFirst()), n = shape.reduce(1, *)
        return (Array(array.values[(t * n)..<((t + 1) * n)]), shape)
    }

    /// The fixtures' model: `w` (3, 4), a weight, and `b` (4,), a bias (excluded from decay and adaptation).
    static func model(on backend: any Backend) throws -> [Parameter] {
        let w = try input("w0"), b = try input("b0")
        return [try Parameter(name: "w", values: w.values, shape: w.shape, isBiasOrNorm: false, on: backend),
                try Parameter(name: "b", values: b.values, shape: b.shape, isBiasOrNorm: true, on: backend)]
    }

    /// The fixtures' gradients of step `t` written into the model's parameters.
    static func setGradients(_ model: [Parameter], step t: Int, on backend: any Backend) throws {
        for (p, name) in zip(model, ["grad_w", "grad_b"]) {
            let g = try input(name), n = p.value.count
            try setGradient(p, Array(g.values[(t * n)..<((t + 1) * n)]), on: backend)
        }
    }

    static func setGradient(_ p: Parameter, _ values: [Float], on backend: any Backend) throws {
        try p.zeroGradient(on: backend)
        try backend.axpby(try backend.upload(values, shape: p.shape), alpha: 1, beta: 1, into: p.gradient)
    }

    /// Within `rtol` of the largest magnitude of the expected array.
    static func expectMatches(_ tensor: Tensor, on backend: any Backend, _ expected: (values: [Double], shape: [Int]),
                              rtol: Double, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let scale = expected.values.map(abs).max() ?? 0
        assertClose(try backend.download(tensor), expected.values, shape: tensor.shape, expectedShape: expected.shape,
                    rtol: 0, atol: rtol * scale, "\(what) on \(backend.kind)", sourceLocation: sourceLocation)
    }

    /// The named entry of an optimizer's state.
    static func entry(_ optimizer: any Optimizer, _ name: String) throws -> Tensor {
        guard let tensor = try optimizer.state.first(where: { $0.name == name })?.tensor else {
            throw SSLError.invalidArgument(op: "test", detail: "no state entry \(name)")
        }
        return tensor
    }

    /// Every parameter's values and every state tensor's values, by name.
    static func snapshot(_ optimizer: any Optimizer, on backend: any Backend) throws -> [String: [Float]] {
        var values: [String: [Float]] = [:]
        for p in optimizer.parameters { values[p.name] = try backend.download(p.value) }
        for (name, tensor) in try optimizer.state { values[name] = try backend.download(tensor) }
        return values
    }
}
