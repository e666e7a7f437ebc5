// Helpers of the layer-object tests: a Double forward of any SSLTrain layer, written from
// LayerReference's ops and the layers' formulas, and the check of a layer's float32 backward on
// the reference backend against central differences of that Double forward.
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

/// The Double model of a layer: its parameters by name (perturbed by the finite differences) and a
/// forward that mirrors the layer's structure with LayerReference's Double ops.
struct LayerDoubleModel {
    var parameters: [String: [Double]]
    let buffers: [String: [Double]]

    init(_ layer: any Layer, on backend: any Backend) throws {
        parameters = Dictionary(uniqueKeysWithValues: try layer.parameters.map {
            ($0.name, try backend.download($0.value).map(Double.init))
        })
        buffers = Dictionary(uniqueKeysWithValues: try layer.buffers.map { ($0.name, try backend.download($0.tensor).map(Double.init)) })
    }

    /// `layer` applied to x of `shape`, in Double; returns the output and its shape.
    func forward(_ layer: any Layer, _ x: [Double], _ shape: [Int]) -> ([Double], [Int]) {
        switch layer {
        case let l as Sequential:
            return l.layers.reduce((x, shape)) { forward($1, $0.0, $0.1) }
        case let l as MLPEncoder: return forward(l.body, x, shape)
        case let l as ResNetEncoder: return forward(l.body, x, shape)
        case let l as MLPHead: return forward(l.body, x, shape)
        case let l as BasicBlock:
            let (main, outShape) = forward(l.main, x, shape)
            let side = l.shortcut.map { forward($0, x, shape).0 } ?? x
            return (LayerReference.relu(zip(main, side).map(+)), outShape)
        case let l as DINOHead:
            let (z, zShape) = forward(l.mlp, x, shape)
            let d = zShape[1]
            let normalized = (0..<zShape[0]).flatMap { r -> [Double] in
                let row = Array(z[(r * d)..<((r + 1) * d)])
                let norm = max(row.map { $0 * $0 }.reduce(0, +).squareRoot(), 1e-12)
                return row.map { $0 / norm }
            }
            return forward(l.lastLayer, normalized, zShape)
        case let l as Linear:
            return (linear(x, rows: shape[0], weight: parameters[l.weight.name]!, bias: l.bias.map { parameters[$0.name]! },
                           inFeatures: l.inFeatures, outFeatures: l.outFeatures), [shape[0], l.outFeatures])
        case let l as WeightNormLinear:
            // W = v / ‖v‖ per row, g = 1.
            let v = parameters[l.direction.name]!, d = l.inFeatures
            let w = (0..<l.outFeatures).flatMap { o -> [Double] in
                let row = Array(v[(o * d)..<((o + 1) * d)])
                let norm = row.map { $0 * $0 }.reduce(0, +).squareRoot()
                return row.map { $0 / norm }
            }
            return (linear(x, rows: shape[0], weight: w, bias: nil, inFeatures: d, outFeatures: l.outFeatures),
                    [shape[0], l.outFeatures])
        case let l as Conv2d:
            let g = try! Conv2dShape(input: shape, weight: l.weight.shape, stride: l.stride, padding: l.padding)
            let y = LayerReference.conv2d(x, weight: parameters[l.weight.name]!, g)
            let inner = g.outHeight * g.outWidth
            return (l.bias.map { LayerReference.addBias(y, bias: parameters[$0.name]!, n: g.n, c: g.outChannels, inner: inner) } ?? y,
                    g.outputShape)
        case let l as BatchNorm:
            let inner = shape[2...].reduce(1, *)
            let r = LayerReference.batchNorm(
                x, n: shape[0], c: l.features, inner: inner, gamma: l.gamma.map { parameters[$0.name]! },
                beta: l.beta.map { parameters[$0.name]! },
                running: (buffers[qualified(l.name, "running_mean")]!, buffers[qualified(l.name, "running_var")]!),
                training: l.training, momentum: Double(l.momentum), eps: Double(l.eps))
            return (r.y, shape)
        case is ReLU: return (LayerReference.relu(x), shape)
        case is GELU: return (LayerReference.gelu(x), shape)
        case is Flatten: return (x, [shape[0], x.count / shape[0]])
        case let l as MaxPool2d:
            let g = try! Pool2dShape(input: shape, window: l.window, op: "test")
            return (LayerReference.maxPool2d(x, g).y, g.outputShape)
        case let l as AvgPool2d:
            let g = try! Pool2dShape(input: shape, window: l.window, op: "test")
            return (LayerReference.avgPool2d(x, g, countIncludePad: l.countIncludePad), g.outputShape)
        case is GlobalAvgPool:
            return (LayerReference.globalAvgPool(x, planes: shape[0] * shape[1], planeSize: shape[2] * shape[3]),
                    [shape[0], shape[1]])
        default:
            preconditionFailure("no Double model for \(type(of: layer))")
        }
    }

    /// y = x Wᵀ + b, written out.
    private func linear(_ x: [Double], rows: Int, weight: [Double], bias: [Double]?, inFeatures: Int, outFeatures: Int) -> [Double] {
        (0..<(rows * outFeatures)).map { i in
            let (r, o) = (i / outFeatures, i % outFeatures)
            return (0..<inFeatures).reduce(bias?[o] ?? 0) { $0 + x[r * inFeatures + $1] * weight[o * inFeatures + $1] }
        }
    }
}

/// Checks `layer`'s float32 forward and backward on the reference backend against the Double
/// model: the forward within 1e-5 of max|y|, and dX and every parameter gradient against central
/// differences (h = 1e-5) of ⟨w, forward⟩ in Double. The analytic side is float32 arithmetic
/// accumulated in Double per op, relative errors ~1e-6 per op; the numeric side is good to ~1e-9;
/// `tolerance` · max(1, max|gradient|) (1e-4) leaves room for the float32 side only, while a
/// wrong term shows up at O(|gradient|). `maxEntries` caps the entries checked per tensor.
func checkLayerGradients(_ what: String, _ layer: any Layer, input shape: [Int], seed: UInt64, tolerance: Double = 1e-4,
                         maxEntries: Int = 400, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let backend = TestBackends.reference
    var rng = SeededRandom(seed: seed)
    let x = rng.uniform(shape.reduce(1, *), scale: 1.5)
    let model = try LayerDoubleModel(layer, on: backend)
    let xd = x.map(Double.init)
    let (expected, outShape) = model.forward(layer, xd, shape)
    let w = rng.uniform(expected.count).map(Double.init)

    try layer.zeroGradients(on: backend)
    let (y, cache) = try layer.forward(try backend.upload(x, shape: shape))
    assertClose(try backend.download(y), expected, shape: y.shape, expectedShape: outShape, rtol: 0,
                atol: 1e-5 * max(1, expected.map(abs).max() ?? 0), "\(what) forward", sourceLocation: sourceLocation)
    let dX = try backend.download(try layer.backward(cache, try backend.upload(w.map(Float.init), shape: outShape)))

    func compare(_ name: String, _ analytic: [Double], at values: [Double], _ f: ([Double]) -> Double) {
        let scale = max(1, analytic.map(abs).max() ?? 0)
        var probe = values, worst = (index: -1, error: 0.0, numeric: 0.0)
        let stride = max(1, values.count / maxEntries)
        for i in Swift.stride(from: 0, to: values.count, by: stride) {
            probe[i] = values[i] + 1e-5
            let up = f(probe)
            probe[i] = values[i] - 1e-5
            let down = f(probe)
            probe[i] = values[i]
            let numeric = (up - down) / 2e-5, error = abs(numeric - analytic[i])
            if !(error <= worst.error) { worst = (i, error, numeric) }
        }
        if !(worst.error <= tolerance * scale) {
            let message = "\(what) \(name)[\(worst.index)]: analytic \(analytic[max(worst.index, 0)]) vs numeric "
                + "\(worst.numeric), allowed \(tolerance * scale)"
            Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
        }
    }
    compare("dX", dX.map(Double.init), at: xd) { dot(w, model.forward(layer, $0, shape).0) }
    for p in layer.parameters {
        let analytic = try backend.download(p.gradient).map(Double.init)
        compare(p.name, analytic, at: model.parameters[p.name]!) { values in
            var perturbed = model
            perturbed.parameters[p.name] = values
            return dot(w, perturbed.forward(layer, xd, shape).0)
        }
    }
}
