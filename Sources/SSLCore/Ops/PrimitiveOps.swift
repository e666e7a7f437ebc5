// Element-wise, broadcasting, shape and reduction primitives with their gradients, on both
// backends: the pieces a user's own layer or loss is written with.

/// An element-wise function of two tensors under NumPy broadcasting.
public enum BinaryOp: Int32, CaseIterable, Sendable {
    /// a + b.
    case add
    /// a − b.
    case subtract
    /// a · b.
    case multiply
    /// a / b.
    case divide
    /// aᵇ, as `torch.pow`: NaN for a negative base with a non-integer exponent.
    case power
    /// 1 where a == b, else 0; its gradient is zero.
    case equal
}

/// An element-wise function of one tensor.
public enum UnaryOp: Int32, CaseIterable, Sendable {
    /// eˣ.
    case exp
    /// ln x: −∞ at 0, NaN below, as `torch.log`.
    case log
}

/// A reduction over axes.
public enum ReduceOp: Int32, CaseIterable, Sendable {
    /// Σ; over no elements, 0.
    case sum
    /// The maximum, NaN if any value is NaN (`torch.amax`); over no elements, an error.
    case max
}

/// Primitives with explicit gradients, as `torch` and mlx name them, of tensors of rank ≤ 8.
///
/// Binary ops broadcast as NumPy: shapes align on their last axes, and each pair of sizes must be
/// equal or one of them 1. Each forward has its backward, which takes ∂L/∂output and returns
/// ∂L/∂input of each input's own shape (broadcast axes summed), as autograd would:
///
/// ```swift
/// let y = try backend.binary(.multiply, x, scale)            // x (N, D) · scale (D)
/// let (dX, dScale) = try backend.binaryBackward(.multiply, x, scale, dY)   // (N, D), (D)
/// ```
/// The convenience methods (``PrimitiveOps/multiply(_:_:)``, ``PrimitiveOps/exponential(_:)``,
/// ``PrimitiveOps/sum(_:axes:keepDimensions:)``, …) name the common cases; they avoid the names
/// `exp`, `log`, `pow` and `max`, which inside a backend would hide the functions of the same name.
public protocol PrimitiveOps {
    /// `op(a, b)` element by element, broadcast to the common shape.
    /// - Parameters:
    ///   - op: the function.
    ///   - a: any shape broadcastable with `b`'s.
    ///   - b: any shape broadcastable with `a`'s.
    func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws -> Tensor
    /// ∂L/∂a and ∂L/∂b of ``binary(_:_:_:)``, each of its input's shape.
    /// - Parameters:
    ///   - op: the forward's function.
    ///   - a: the forward's `a`.
    ///   - b: the forward's `b`.
    ///   - dY: ∂L/∂output, of the broadcast shape.
    func binaryBackward(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, _ dY: Tensor) throws -> (dA: Tensor, dB: Tensor)
    /// `op(x)` element by element.
    /// - Parameters:
    ///   - op: the function.
    ///   - x: any shape.
    func unary(_ op: UnaryOp, _ x: Tensor) throws -> Tensor
    /// ∂L/∂x of ``unary(_:_:)``.
    /// - Parameters:
    ///   - op: the forward's function.
    ///   - x: the forward's input.
    ///   - dY: ∂L/∂output, `x`'s shape.
    func unaryBackward(_ op: UnaryOp, _ x: Tensor, _ dY: Tensor) throws -> Tensor
    /// `op` over `axes`.
    /// - Parameters:
    ///   - op: sum or max.
    ///   - x: any shape.
    ///   - axes: distinct axes, negative ones counted from the end; empty reduces nothing.
    ///   - keepDimensions: keep each reduced axis with size 1, as `keepdim=True`.
    func reduce(_ op: ReduceOp, _ x: Tensor, axes: [Int], keepDimensions: Bool) throws -> Tensor
    /// ∂L/∂x of ``reduce(_:_:axes:keepDimensions:)``: the sum's gradient broadcast back; the
    /// maximum's split evenly between the elements equal to it (`torch.amax`).
    /// - Parameters:
    ///   - op: the forward's reduction.
    ///   - x: the forward's input.
    ///   - axes: the forward's axes.
    ///   - dY: ∂L/∂output, with or without the reduced axes.
    func reduceBackward(_ op: ReduceOp, _ x: Tensor, axes: [Int], _ dY: Tensor) throws -> Tensor
    /// The axes of `x` in the order `permutation` gives (`torch.permute`): output axis i is
    /// input axis `permutation[i]`. Its backward is the inverse permutation.
    /// - Parameters:
    ///   - x: any shape.
    ///   - permutation: a permutation of `0..<x.rank`.
    func transpose(_ x: Tensor, permutation: [Int]) throws -> Tensor
    /// `x` repeated along its size-1 and missing leading axes to `shape` (`torch.broadcast_to`).
    /// Its backward is ``unbroadcast(_:to:)``.
    /// - Parameters:
    ///   - x: a shape that broadcasts to `shape`.
    ///   - shape: the output's.
    func broadcast(_ x: Tensor, to shape: [Int]) throws -> Tensor
    /// `dY` summed over the axes a broadcast to its shape added or widened: the gradient of
    /// ``broadcast(_:to:)`` and of every broadcasting op, of shape `shape`.
    /// - Parameters:
    ///   - dY: a shape `shape` broadcasts to.
    ///   - shape: the broadcast input's.
    func unbroadcast(_ dY: Tensor, to shape: [Int]) throws -> Tensor
    /// The parts joined along `axis` (`torch.cat`); the other axes must agree. Its backward is
    /// ``slice(_:axis:range:)`` of each part's range.
    /// - Parameters:
    ///   - parts: one or more tensors of equal rank.
    ///   - axis: negative counts from the end.
    func concatenate(_ parts: [Tensor], axis: Int) throws -> Tensor
    /// Indices `range` of `axis` (`x.narrow`), a copy. Its backward places dY in zeros.
    /// - Parameters:
    ///   - x: any shape.
    ///   - axis: negative counts from the end.
    ///   - range: within the axis.
    func slice(_ x: Tensor, axis: Int, range: Range<Int>) throws -> Tensor
}

extension PrimitiveOps {
    /// a + b, broadcast; gradients from ``binaryBackward(_:_:_:_:)`` with ``BinaryOp/add``.
    public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor { try binary(.add, a, b) }
    /// a − b, broadcast.
    public func subtract(_ a: Tensor, _ b: Tensor) throws -> Tensor { try binary(.subtract, a, b) }
    /// a · b, broadcast.
    public func multiply(_ a: Tensor, _ b: Tensor) throws -> Tensor { try binary(.multiply, a, b) }
    /// a / b, broadcast.
    public func divide(_ a: Tensor, _ b: Tensor) throws -> Tensor { try binary(.divide, a, b) }
    /// aᵇ, broadcast (`torch.pow`).
    public func power(_ a: Tensor, _ b: Tensor) throws -> Tensor { try binary(.power, a, b) }
    /// eˣ element-wise; gradient from ``unaryBackward(_:_:_:)`` with ``UnaryOp/exp``.
    public func exponential(_ x: Tensor) throws -> Tensor { try unary(.exp, x) }
    /// ln x element-wise.
    public func logarithm(_ x: Tensor) throws -> Tensor { try unary(.log, x) }
    /// Σ over `axes`; gradient from ``reduceBackward(_:_:axes:_:)`` with ``ReduceOp/sum``.
    public func sum(_ x: Tensor, axes: [Int], keepDimensions: Bool = false) throws -> Tensor {
        try reduce(.sum, x, axes: axes, keepDimensions: keepDimensions)
    }
    /// The maximum over `axes` (`torch.amax`).
    public func maximum(_ x: Tensor, axes: [Int], keepDimensions: Bool = false) throws -> Tensor {
        try reduce(.max, x, axes: axes, keepDimensions: keepDimensions)
    }
}

/// The shape rules of the primitives, shared by both backends so that both refuse the same
/// inputs with the same words.
enum PrimitiveShapes {
    static let maxRank = 8

    static func rank(_ shape: [Int], _ name: String, op: String) throws {
        guard shape.count <= maxRank else {
            throw SSLError.shapeMismatch(op: op, detail: "\(name) \(shapeText(shape)) has rank \(shape.count); the primitives take ≤ \(maxRank)")
        }
    }

    /// Row-major strides.
    static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count), step = 1
        for d in shape.indices.reversed() {
            strides[d] = step
            step *= shape[d]
        }
        return strides
    }

    /// NumPy's broadcast of two shapes.
    static func broadcast(_ a: [Int], _ b: [Int], op: String) throws -> [Int] {
        try rank(a, "a", op: op)
        try rank(b, "b", op: op)
        let rank = Swift.max(a.count, b.count)
        let pa = [Int](repeating: 1, count: rank - a.count) + a, pb = [Int](repeating: 1, count: rank - b.count) + b
        return try zip(pa, pb).enumerated().map { d, sizes in
            guard sizes.0 == sizes.1 || sizes.0 == 1 || sizes.1 == 1 else {
                throw SSLError.shapeMismatch(op: op, detail: "a \(shapeText(a)) and b \(shapeText(b)) do not broadcast: "
                                             + "axis \(d - rank) has sizes \(sizes.0) and \(sizes.1)")
            }
            return sizes.0 == 1 ? sizes.1 : sizes.0
        }
    }

    /// The strides that read `shape` as if it had `output`'s (0 along broadcast axes).
    static func broadcastStrides(_ shape: [Int], to output: [Int]) -> [Int] {
        let padded = [Int](repeating: 1, count: output.count - shape.count) + shape
        return zip(padded, strides(padded)).map { $0.0 == 1 ? 0 : $0.1 }
    }

    /// `shape` must broadcast to `output` alone (the output does not grow).
    static func broadcastable(_ shape: [Int], to output: [Int], op: String) throws {
        try rank(shape, "the input", op: op)
        try rank(output, "the output", op: op)
        let padded = [Int](repeating: 1, count: Swift.max(output.count - shape.count, 0)) + shape
        guard shape.count <= output.count, zip(padded, output).allSatisfy({ $0 == $1 || $0 == 1 }) else {
            throw SSLError.shapeMismatch(op: op, detail: "\(shapeText(shape)) does not broadcast to \(shapeText(output))")
        }
    }

    /// Axes in 0..<rank, distinct, negative ones counted from the end.
    static func axes(_ axes: [Int], rank: Int, op: String) throws -> [Int] {
        let resolved = try axes.map { axis -> Int in
            let a = axis < 0 ? axis + rank : axis
            guard (0..<Swift.max(rank, 1)).contains(a), rank > 0 || axis == 0 else {
                throw SSLError.invalidArgument(op: op, detail: "axis \(axis) is out of range for rank \(rank)")
            }
            return a
        }
        guard Set(resolved).count == resolved.count else {
            throw SSLError.invalidArgument(op: op, detail: "axes \(axes) repeat an axis")
        }
        return resolved.sorted()
    }

    static func axis(_ axis: Int, rank: Int, op: String) throws -> Int {
        guard rank > 0 else { throw SSLError.invalidArgument(op: op, detail: "a scalar has no axis \(axis)") }
        return try axes([axis], rank: rank, op: op)[0]
    }

    /// The output shape of a reduction, and the kept and reduced axes.
    static func reduced(_ shape: [Int], axes: [Int], keepDimensions: Bool, op: String) throws
        -> (output: [Int], kept: [Int], reduced: [Int]) {
        try rank(shape, "x", op: op)
        let reduced = try Self.axes(axes, rank: shape.count, op: op)
        let kept = shape.indices.filter { !reduced.contains($0) }
        let output = keepDimensions ? shape.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element } : kept.map { shape[$0] }
        return (output, kept, reduced)
    }

    /// The reduced axes of a gradient `dY` of a reduction of `shape` over `axes`, with or without
    /// the reduced axes kept.
    static func reducedGradient(_ shape: [Int], axes: [Int], dY: [Int], op: String) throws -> [Int] {
        let kept = try reduced(shape, axes: axes, keepDimensions: true, op: op)
        let dropped = try reduced(shape, axes: axes, keepDimensions: false, op: op)
        guard dY == kept.output || dY == dropped.output else {
            throw SSLError.shapeMismatch(op: op, detail: "dY \(shapeText(dY)) is not the reduction's output "
                                         + "\(shapeText(dropped.output)) (or \(shapeText(kept.output)) with kept axes)")
        }
        return kept.reduced
    }

    /// The maximum of no elements has no value (`torch.amax` refuses it too).
    static func nonEmpty(_ op: ReduceOp, _ shape: [Int], reduced: [Int]) throws {
        guard op == .max, reduced.contains(where: { shape[$0] == 0 }) else { return }
        throw SSLError.invalidArgument(op: "reduce", detail: "the maximum over an empty axis of \(shapeText(shape)) has no value")
    }

    static func permutation(_ permutation: [Int], rank: Int, op: String) throws {
        guard permutation.sorted() == Array(0..<rank) else {
            throw SSLError.invalidArgument(op: op, detail: "\(permutation) is not a permutation of the \(rank) axes")
        }
    }

    /// The joined shape; every part's other axes must agree.
    static func concatenated(_ shapes: [[Int]], axis: Int, op: String) throws -> (shape: [Int], axis: Int) {
        guard let first = shapes.first else { throw SSLError.invalidArgument(op: op, detail: "no tensors to concatenate") }
        try rank(first, "parts[0]", op: op)
        let a = try Self.axis(axis, rank: first.count, op: op)
        for (i, s) in shapes.enumerated() {
            var x = s, f = first
            guard s.count == first.count else {
                throw SSLError.shapeMismatch(op: op, detail: "parts[\(i)] \(shapeText(s)) and parts[0] \(shapeText(first)) differ in rank")
            }
            x[a] = 0; f[a] = 0
            guard x == f else {
                throw SSLError.shapeMismatch(op: op, detail: "parts[\(i)] \(shapeText(s)) and parts[0] \(shapeText(first)) "
                                             + "differ outside axis \(a)")
            }
        }
        var out = first
        out[a] = shapes.reduce(0) { $0 + $1[a] }
        return (out, a)
    }

    static func sliced(_ shape: [Int], axis: Int, range: Range<Int>, op: String) throws -> (shape: [Int], axis: Int) {
        try rank(shape, "x", op: op)
        let a = try Self.axis(axis, rank: shape.count, op: op)
        guard range.lowerBound >= 0, range.upperBound <= shape[a] else {
            throw SSLError.invalidArgument(op: op, detail: "range \(range) is outside axis \(a) of \(shapeText(shape))")
        }
        var out = shape
        out[a] = range.count
        return (out, a)
    }
}

extension Backend {
    /// The mean over `axes` (`torch.mean`): the sum times 1/count; NaN over no elements.
    public func mean(_ x: Tensor, axes: [Int], keepDimensions: Bool = false) throws -> Tensor {
        let r = try PrimitiveShapes.reduced(x.shape, axes: axes, keepDimensions: keepDimensions, op: "mean")
        return try scaled(try sum(x, axes: axes, keepDimensions: keepDimensions), by: 1 / Float(r.reduced.map { x.shape[$0] }.reduce(1, *)))
    }

    /// ∂L/∂x of ``mean(_:axes:keepDimensions:)``.
    public func meanBackward(_ x: Tensor, axes: [Int], _ dY: Tensor) throws -> Tensor {
        let reduced = try PrimitiveShapes.reducedGradient(x.shape, axes: axes, dY: dY.shape, op: "meanBackward")
        return try scaled(try reduceBackward(.sum, x, axes: axes, dY), by: 1 / Float(reduced.map { x.shape[$0] }.reduce(1, *)))
    }

    /// `factor · x`, a new tensor; its gradient is `scaled(dY, by: factor)`.
    public func scaled(_ x: Tensor, by factor: Float) throws -> Tensor {
        let y = try zeros(x.shape)
        try axpby(x, alpha: factor, beta: 0, into: y)
        return y
    }
}
