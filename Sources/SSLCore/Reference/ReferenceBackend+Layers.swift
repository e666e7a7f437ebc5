// Reference layers' ops: Float tensors to Double, LayerReference's forward or backward, and back
// to Float; accumulators (dWeight, dBias, dγ, dβ, running statistics) are updated in place.

extension ReferenceBackend {
    // MARK: - Bias and activations

    public func addBias(_ bias: Tensor, to x: Tensor) throws {
        let op = "addBias"
        let v = try Shapes.channels(x.shape, op: op)
        try Shapes.perChannel(bias.shape, of: x.shape, op: op, name: "bias")
        let y = LayerReference.addBias(try doubles(x, op), bias: try doubles(bias, op), n: v.n, c: v.c, inner: v.inner)
        try storage(x, op).values = y.map(Float.init)
    }

    public func biasBackward(_ dY: Tensor, addingInto dBias: Tensor) throws {
        let op = "biasBackward"
        let v = try Shapes.channels(dY.shape, op: op, name: "dY")
        try Shapes.perChannel(dBias.shape, of: dY.shape, op: op, name: "dBias")
        try accumulate(LayerReference.biasBackward(try doubles(dY, op), n: v.n, c: v.c, inner: v.inner), into: dBias, op)
    }

    public func relu(_ x: Tensor) throws -> Tensor {
        try Shapes.elementwise(x.shape, op: "relu")
        return make(LayerReference.relu(try doubles(x, "relu")).map(Float.init), x.shape)
    }

    public func reluBackward(_ x: Tensor, _ dY: Tensor) throws -> Tensor {
        let op = "reluBackward"
        try Shapes.elementwise(x.shape, dY.shape, op: op)
        return make(LayerReference.reluBackward(try doubles(x, op), try doubles(dY, op)).map(Float.init), x.shape)
    }

    public func gelu(_ x: Tensor) throws -> Tensor {
        try Shapes.elementwise(x.shape, op: "gelu")
        return make(LayerReference.gelu(try doubles(x, "gelu")).map(Float.init), x.shape)
    }

    public func geluBackward(_ x: Tensor, _ dY: Tensor) throws -> Tensor {
        let op = "geluBackward"
        try Shapes.elementwise(x.shape, dY.shape, op: op)
        return make(LayerReference.geluBackward(try doubles(x, op), try doubles(dY, op)).map(Float.init), x.shape)
    }

    // MARK: - Convolution

    public func conv2d(_ x: Tensor, weight: Tensor, stride: Int, padding: Int) throws -> Tensor {
        let g = try Conv2dShape(input: x.shape, weight: weight.shape, stride: stride, padding: padding)
        try HostMemory.require(g.outputShape, bytesPerValue: 8, what: "conv2d's output \(shapeText(g.outputShape))")
        let y = LayerReference.conv2d(try doubles(x, "conv2d"), weight: try doubles(weight, "conv2d"), g)
        return make(y.map(Float.init), g.outputShape)
    }

    public func conv2dBackward(_ x: Tensor, weight: Tensor, dY: Tensor, stride: Int, padding: Int,
                               addingInto dWeight: Tensor) throws -> Tensor {
        let op = "conv2dBackward"
        let g = try Shapes.conv2dBackward(x.shape, weight: weight.shape, dY: dY.shape, dWeight: dWeight.shape,
                                          stride: stride, padding: padding)
        let (dX, dW) = LayerReference.conv2dBackward(try doubles(x, op), weight: try doubles(weight, op),
                                                     dY: try doubles(dY, op), g)
        try accumulate(dW, into: dWeight, op)
        return make(dX.map(Float.init), x.shape)
    }

    public func conv2dWeightGradient(_ x: Tensor, dY: Tensor, stride: Int, padding: Int, addingInto dWeight: Tensor) throws {
        let op = "conv2dWeightGradient"
        let g = try Shapes.conv2dBackward(x.shape, weight: dWeight.shape, dY: dY.shape, dWeight: dWeight.shape,
                                          stride: stride, padding: padding, op: op)
        try accumulate(LayerReference.conv2dWeightGradient(try doubles(x, op), dY: try doubles(dY, op), g), into: dWeight, op)
    }

    // MARK: - Batch normalisation

    public func batchNormalization(_ x: Tensor, gamma: Tensor?, beta: Tensor?, running: RunningStatistics?,
                                   training: Bool, momentum: Float, eps: Float) throws -> BatchNormalizationResult {
        let op = "batchNormalization"
        let v = try Shapes.batchNormalization(
            x.shape, gamma: gamma?.shape, beta: beta?.shape, running: running.map { ($0.mean.shape, $0.variance.shape) },
            training: training, momentum: momentum, eps: eps)
        let stats = try running.map { (try doubles($0.mean, op), try doubles($0.variance, op)) }
        let r = LayerReference.batchNorm(
            try doubles(x, op), n: v.n, c: v.c, inner: v.inner, gamma: try gamma.map { try doubles($0, op) },
            beta: try beta.map { try doubles($0, op) }, running: stats, training: training,
            momentum: Double(momentum), eps: Double(eps))
        if let running, let updated = r.running, training {
            try storage(running.mean, op).values = updated.mean.map(Float.init)
            try storage(running.variance, op).values = updated.variance.map(Float.init)
        }
        let normalized = make(r.normalized.map(Float.init), x.shape)
        return BatchNormalizationResult(y: gamma == nil ? normalized : make(r.y.map(Float.init), x.shape),
                                        normalized: normalized, mean: make(r.mean.map(Float.init), [v.c]),
                                        rstd: make(r.rstd.map(Float.init), [v.c]))
    }

    public func batchNormalizationBackward(_ dY: Tensor, normalized: Tensor, rstd: Tensor, gamma: Tensor?,
                                           training: Bool, dGamma: Tensor?, dBeta: Tensor?) throws -> Tensor {
        let op = "batchNormalizationBackward"
        let v = try Shapes.batchNormalizationBackward(dY.shape, normalized: normalized.shape, rstd: rstd.shape,
                                                      gamma: gamma?.shape, dGamma: dGamma?.shape, dBeta: dBeta?.shape)
        let r = LayerReference.batchNormBackward(
            try doubles(dY, op), normalized: try doubles(normalized, op), rstd: try doubles(rstd, op),
            gamma: try gamma.map { try doubles($0, op) }, n: v.n, c: v.c, inner: v.inner, training: training)
        if let dGamma, let dBeta {
            try accumulate(r.dGamma, into: dGamma, op)
            try accumulate(r.dBeta, into: dBeta, op)
        }
        return make(r.dX.map(Float.init), dY.shape)
    }

    // MARK: - Batch normalisation over a batch split across ranks

    public func batchNormalizationMoments(_ x: Tensor) throws -> BatchNormalizationMoments {
        let op = "batchNormalizationMoments"
        let v = try Shapes.channels(x.shape, op: op)
        let r = LayerReference.batchNormMoments(try doubles(x, op), n: v.n, c: v.c, inner: v.inner)
        return BatchNormalizationMoments(count: v.n * v.inner, mean: make(r.mean.map(Float.init), [v.c]),
                                         m2: make(r.m2.map(Float.init), [v.c]))
    }

    public func batchNormalization(_ x: Tensor, gamma: Tensor?, beta: Tensor?, mean: Tensor,
                                   rstd: Tensor) throws -> BatchNormalizationResult {
        let op = "batchNormalization(mean:rstd:)"
        let v = try Shapes.batchNormalization(x.shape, gamma: gamma?.shape, beta: beta?.shape, mean: mean.shape,
                                              rstd: rstd.shape)
        let r = LayerReference.batchNorm(
            try doubles(x, op), n: v.n, c: v.c, inner: v.inner, gamma: try gamma.map { try doubles($0, op) },
            beta: try beta.map { try doubles($0, op) }, mean: try doubles(mean, op), rstd: try doubles(rstd, op))
        let normalized = make(r.normalized.map(Float.init), x.shape)
        return BatchNormalizationResult(y: gamma == nil ? normalized : make(r.y.map(Float.init), x.shape),
                                        normalized: normalized, mean: mean, rstd: rstd)
    }

    public func batchNormalizationBackwardSums(_ dY: Tensor, normalized: Tensor) throws -> BatchNormalizationSums {
        let op = "batchNormalizationBackwardSums"
        let v = try Shapes.batchNormalizationBackwardSums(dY.shape, normalized: normalized.shape)
        let r = LayerReference.batchNormBackwardSums(try doubles(dY, op), normalized: try doubles(normalized, op),
                                                     n: v.n, c: v.c, inner: v.inner)
        return BatchNormalizationSums(dY: make(r.dY.map(Float.init), [v.c]),
                                      dYNormalized: make(r.dYNormalized.map(Float.init), [v.c]))
    }

    public func batchNormalizationBackward(_ dY: Tensor, normalized: Tensor, rstd: Tensor, gamma: Tensor?,
                                           sums: BatchNormalizationSums, count: Int) throws -> Tensor {
        let op = "batchNormalizationBackward(sums:count:)"
        let v = try Shapes.batchNormalizationBackward(dY.shape, normalized: normalized.shape, rstd: rstd.shape,
                                                      gamma: gamma?.shape, sums: (sums.dY.shape, sums.dYNormalized.shape),
                                                      count: count)
        let dX = LayerReference.batchNormBackward(
            try doubles(dY, op), normalized: try doubles(normalized, op), rstd: try doubles(rstd, op),
            gamma: try gamma.map { try doubles($0, op) }, sums: (try doubles(sums.dY, op), try doubles(sums.dYNormalized, op)),
            count: count, n: v.n, c: v.c, inner: v.inner)
        return make(dX.map(Float.init), dY.shape)
    }

    // MARK: - Pooling

    public func maxPool2d(_ x: Tensor, window: PoolWindow) throws -> MaxPoolResult {
        let g = try Pool2dShape(input: x.shape, window: window, op: "maxPool2d")
        let (y, indices) = LayerReference.maxPool2d(try doubles(x, "maxPool2d"), g)
        return MaxPoolResult(y: make(y.map(Float.init), g.outputShape), indices: make(indices.map(Float.init), g.outputShape))
    }

    public func maxPool2dBackward(_ dY: Tensor, indices: Tensor, inputShape: [Int], window: PoolWindow) throws -> Tensor {
        let op = "maxPool2dBackward"
        let g = try Shapes.poolBackward(dY.shape, indices: indices.shape, inputShape: inputShape, window: window, op: op)
        let planeSize = g.height * g.width
        let at = try values(indices, op: op).map { value -> Int in
            guard value >= 0, value < Float(planeSize), value.rounded() == value else {
                throw SSLError.invalidArgument(op: op, detail: "index \(value) is not a position in a \(g.height)×\(g.width) plane")
            }
            return Int(value)
        }
        return make(LayerReference.maxPool2dBackward(try doubles(dY, op), indices: at, g).map(Float.init), inputShape)
    }

    public func avgPool2d(_ x: Tensor, window: PoolWindow, countIncludePad: Bool) throws -> Tensor {
        let g = try Pool2dShape(input: x.shape, window: window, op: "avgPool2d")
        let y = LayerReference.avgPool2d(try doubles(x, "avgPool2d"), g, countIncludePad: countIncludePad)
        return make(y.map(Float.init), g.outputShape)
    }

    public func avgPool2dBackward(_ dY: Tensor, inputShape: [Int], window: PoolWindow, countIncludePad: Bool) throws -> Tensor {
        let op = "avgPool2dBackward"
        let g = try Shapes.poolBackward(dY.shape, inputShape: inputShape, window: window, op: op)
        let dX = LayerReference.avgPool2dBackward(try doubles(dY, op), g, countIncludePad: countIncludePad)
        return make(dX.map(Float.init), inputShape)
    }

    public func globalAvgPool(_ x: Tensor) throws -> Tensor {
        let p = try Shapes.globalPool(x.shape, op: "globalAvgPool")
        let y = LayerReference.globalAvgPool(try doubles(x, "globalAvgPool"), planes: p.planes, planeSize: p.size)
        return make(y.map(Float.init), [x.shape[0], x.shape[1]])
    }

    public func globalAvgPoolBackward(_ dY: Tensor, inputShape: [Int]) throws -> Tensor {
        let p = try Shapes.globalPoolBackward(dY.shape, inputShape: inputShape)
        let dX = LayerReference.globalAvgPoolBackward(try doubles(dY, "globalAvgPoolBackward"), planeSize: p.size)
        return make(dX.map(Float.init), inputShape)
    }

    // MARK: - Helpers

    private func doubles(_ tensor: Tensor, _ op: String) throws -> [Double] { try values(tensor, op: op).map(Double.init) }

    /// The host storage of a tensor written in place.
    private func storage(_ tensor: Tensor, _ op: String) throws -> HostBuffer {
        guard let buffer = tensor.hostBuffer else {
            throw SSLError.wrongBackend(op: op, expected: "the reference backend", found: tensor.location)
        }
        return buffer
    }

    /// `target += values`, summed in Double.
    private func accumulate(_ values: [Double], into target: Tensor, _ op: String) throws {
        let buffer = try storage(target, op)
        for i in values.indices { buffer.values[i] = Float(Double(buffer.values[i]) + values[i]) }
    }
}
