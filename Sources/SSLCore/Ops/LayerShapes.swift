// Shape and argument rules of the layers' ops, shared by both backends so that they throw the
// same errors for the same inputs. Convolution and pooling geometry is in Conv2dShape and
// Pool2dShape (LayerOps.swift).

extension Shapes {
    /// A non-empty `(N, C, …)` tensor of rank ≥ 2 seen as (N, C, inner).
    static func channels(_ shape: [Int], op: String, name: String = "x") throws -> (n: Int, c: Int, inner: Int) {
        guard shape.count >= 2, shape.allSatisfy({ $0 > 0 }) else {
            throw SSLError.shapeMismatch(op: op, detail: "\(name) must be a non-empty (N, C, …) tensor of rank ≥ 2, "
                                         + "got \(shapeText(shape))")
        }
        return (shape[0], shape[1], shape[2...].reduce(1, *))
    }

    /// A per-channel vector `(C)` for a tensor `(N, C, …)`.
    static func perChannel(_ vector: [Int], of x: [Int], op: String, name: String) throws {
        guard vector == [x[1]] else {
            throw SSLError.shapeMismatch(op: op, detail: "\(name) is \(shapeText(vector)) but x \(shapeText(x)) "
                                         + "has \(x[1]) channels, so \(name) must be \(shapeText([x[1]]))")
        }
    }

    /// Non-empty tensors of one shape (an activation's input and its gradient).
    static func elementwise(_ x: [Int], _ dY: [Int]? = nil, op: String) throws {
        guard x.allSatisfy({ $0 > 0 }) else {
            throw SSLError.shapeMismatch(op: op, detail: "x \(shapeText(x)) is empty")
        }
        if let dY { try same(x, dY, op: op, names: ("x", "dY")) }
    }

    /// The arguments of a batch-normalisation forward; returns (N, C, inner).
    static func batchNormalization(_ x: [Int], gamma: [Int]?, beta: [Int]?, running: ([Int], [Int])?,
                                   training: Bool, momentum: Float, eps: Float) throws -> (n: Int, c: Int, inner: Int) {
        let op = "batchNormalization"
        let v = try channels(x, op: op)
        guard (gamma == nil) == (beta == nil) else {
            throw SSLError.invalidArgument(op: op, detail: "gamma and beta must be given together (affine) or both omitted")
        }
        if let gamma, let beta {
            try perChannel(gamma, of: x, op: op, name: "gamma")
            try perChannel(beta, of: x, op: op, name: "beta")
        }
        if let running {
            try perChannel(running.0, of: x, op: op, name: "running mean")
            try perChannel(running.1, of: x, op: op, name: "running variance")
            guard !training || v.n * v.inner >= 2 else {
                throw SSLError.invalidArgument(op: op, detail: "training needs more than 1 value per channel, "
                                               + "got input \(shapeText(x))")
            }
        } else if !training {
            throw SSLError.invalidArgument(op: op, detail: "evaluation mode needs running statistics")
        }
        guard momentum >= 0, momentum <= 1 else {
            throw SSLError.invalidArgument(op: op, detail: "momentum must be in [0, 1], got \(momentum)")
        }
        try validEps(eps, op: op)
        return v
    }

    /// The arguments of a batch-normalisation backward; returns (N, C, inner).
    static func batchNormalizationBackward(_ dY: [Int], normalized: [Int], rstd: [Int], gamma: [Int]?,
                                           dGamma: [Int]?, dBeta: [Int]?) throws -> (n: Int, c: Int, inner: Int) {
        let op = "batchNormalizationBackward"
        let v = try channels(dY, op: op, name: "dY")
        try same(dY, normalized, op: op, names: ("dY", "normalized"))
        try perChannel(rstd, of: dY, op: op, name: "rstd")
        if let gamma { try perChannel(gamma, of: dY, op: op, name: "gamma") }
        guard (dGamma == nil) == (dBeta == nil) else {
            throw SSLError.invalidArgument(op: op, detail: "dGamma and dBeta must be given together or both omitted")
        }
        if let dGamma, let dBeta {
            guard gamma != nil else {
                throw SSLError.invalidArgument(op: op, detail: "dGamma and dBeta need the affine gamma of the forward")
            }
            try perChannel(dGamma, of: dY, op: op, name: "dGamma")
            try perChannel(dBeta, of: dY, op: op, name: "dBeta")
        }
        return v
    }

    // MARK: Synchronised batch normalisation

    /// The arguments of ``LayerOps/batchNormalization(_:gamma:beta:mean:rstd:)``; returns (N, C, inner).
    static func batchNormalization(_ x: [Int], gamma: [Int]?, beta: [Int]?, mean: [Int],
                                   rstd: [Int]) throws -> (n: Int, c: Int, inner: Int) {
        let op = "batchNormalization(mean:rstd:)"
        let v = try channels(x, op: op)
        guard (gamma == nil) == (beta == nil) else {
            throw SSLError.invalidArgument(op: op, detail: "gamma and beta must be given together (affine) or both omitted")
        }
        if let gamma, let beta {
            try perChannel(gamma, of: x, op: op, name: "gamma")
            try perChannel(beta, of: x, op: op, name: "beta")
        }
        try perChannel(mean, of: x, op: op, name: "mean")
        try perChannel(rstd, of: x, op: op, name: "rstd")
        return v
    }

    /// The arguments of ``LayerOps/batchNormalizationBackwardSums(_:normalized:)``; returns (N, C, inner).
    static func batchNormalizationBackwardSums(_ dY: [Int], normalized: [Int]) throws -> (n: Int, c: Int, inner: Int) {
        let op = "batchNormalizationBackwardSums"
        let v = try channels(dY, op: op, name: "dY")
        try same(dY, normalized, op: op, names: ("dY", "normalized"))
        return v
    }

    /// The arguments of ``LayerOps/batchNormalizationBackward(_:normalized:rstd:gamma:sums:count:)``;
    /// returns (N, C, inner).
    static func batchNormalizationBackward(_ dY: [Int], normalized: [Int], rstd: [Int], gamma: [Int]?,
                                           sums: ([Int], [Int]), count: Int) throws -> (n: Int, c: Int, inner: Int) {
        let op = "batchNormalizationBackward(sums:count:)"
        let v = try channels(dY, op: op, name: "dY")
        try same(dY, normalized, op: op, names: ("dY", "normalized"))
        try perChannel(rstd, of: dY, op: op, name: "rstd")
        if let gamma { try perChannel(gamma, of: dY, op: op, name: "gamma") }
        try perChannel(sums.0, of: dY, op: op, name: "sum of dY")
        try perChannel(sums.1, of: dY, op: op, name: "sum of dY·normalized")
        // The group's values include this rank's: a smaller count is a wrong reduction.
        guard count >= v.n * v.inner else {
            throw SSLError.invalidArgument(op: op, detail: "count \(count) is below the \(v.n * v.inner) values per "
                                           + "channel of this rank's dY \(shapeText(dY))")
        }
        return v
    }

    /// The arguments of a convolution backward.
    static func conv2dBackward(_ x: [Int], weight: [Int], dY: [Int], dWeight: [Int], stride: Int,
                               padding: Int, op: String = "conv2dBackward") throws -> Conv2dShape {
        let g = try Conv2dShape(input: x, weight: weight, stride: stride, padding: padding, op: op)
        try same(dY, g.outputShape, op: op, names: ("dY", "the convolution's output"))
        try same(dWeight, weight, op: op, names: ("dWeight", "weight"))
        return g
    }

    /// The arguments of a pooling backward: dY (and indices) must have the pooled shape of `inputShape`.
    static func poolBackward(_ dY: [Int], indices: [Int]? = nil, inputShape: [Int], window: PoolWindow,
                             op: String) throws -> Pool2dShape {
        let g = try Pool2dShape(input: inputShape, window: window, op: op)
        try same(dY, g.outputShape, op: op, names: ("dY", "the pooled input shape"))
        if let indices { try same(indices, dY, op: op, names: ("indices", "dY")) }
        return g
    }

    /// `(N, C, H, W)` for global average pooling; returns (planes N·C, plane size H·W).
    static func globalPool(_ x: [Int], op: String) throws -> (planes: Int, size: Int) {
        guard x.count == 4, x.allSatisfy({ $0 > 0 }) else {
            throw SSLError.shapeMismatch(op: op, detail: "x must be a non-empty (N, C, H, W) tensor, got \(shapeText(x))")
        }
        return (x[0] * x[1], x[2] * x[3])
    }

    /// dY `(N, C)` of an input `(N, C, H, W)`.
    static func globalPoolBackward(_ dY: [Int], inputShape: [Int]) throws -> (planes: Int, size: Int) {
        let op = "globalAvgPoolBackward"
        let p = try globalPool(inputShape, op: op)
        try same(dY, [inputShape[0], inputShape[1]], op: op, names: ("dY", "(N, C) of the input"))
        return p
    }
}
