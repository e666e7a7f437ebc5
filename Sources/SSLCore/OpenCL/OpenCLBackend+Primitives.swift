// The primitives on the device (Kernels/primitives.cl): strided copies for the shape ops, the
// broadcasting binary op and its partials, exp and log, and reductions over any axes.

extension OpenCLBackend: PrimitiveOps {
    /// A shape or strides as a kernel's `int8`.
    private func layout(_ values: [Int], _ op: String) throws -> KernelArgument {
        .int8(try values.map { v in
            guard let w = Int32(exactly: v) else {
                throw SSLError.invalidArgument(op: op, detail: "size \(v) exceeds the 32-bit index range of the kernels")
            }
            return w
        })
    }

    /// y[at + off(i, yStrides)] = x[offset + off(i, xStrides)] over the elements i of `shape`.
    private func stridedCopy(_ x: Tensor, offset xBase: Int = 0, strides xStrides: [Int], into y: Tensor, at yBase: Int = 0,
                             strides yStrides: [Int], shape: [Int], op: String) throws {
        let count = shape.reduce(1, *)
        guard count > 0 else { return }
        try launchElements("strided_copy", in: .primitives, count: count, arguments: [
            try arg(x, op), try int32(xBase, op), try arg(y, op), try int32(yBase, op), try int32(count, op),
            try int32(shape.count, op), try layout(shape, op), try layout(xStrides, op), try layout(yStrides, op),
        ])
    }

    public func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        let output = try PrimitiveShapes.broadcast(a.shape, b.shape, op: "binary")
        let y = try empty(output)
        guard y.count > 0 else { return y }
        try launchElements("binary", in: .primitives, count: y.count, arguments: [
            try arg(a, "binary"), try arg(b, "binary"), try arg(y, "binary"), try int32(y.count, "binary"), .int(op.rawValue),
            try int32(output.count, "binary"), try layout(output, "binary"),
            try layout(PrimitiveShapes.broadcastStrides(a.shape, to: output), "binary"),
            try layout(PrimitiveShapes.broadcastStrides(b.shape, to: output), "binary"),
        ])
        return y
    }

    public func binaryBackward(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, _ dY: Tensor) throws -> (dA: Tensor, dB: Tensor) {
        let name = "binaryBackward"
        let output = try PrimitiveShapes.broadcast(a.shape, b.shape, op: name)
        try Shapes.same(dY.shape, output, op: name, names: ("dY", "the broadcast output"))
        let dA = try empty(output), dB = try empty(output)
        if dY.count > 0 {
            try launchElements("binary_partials", in: .primitives, count: dY.count, arguments: [
                try arg(a, name), try arg(b, name), try arg(dY, name), try arg(dA, name), try arg(dB, name),
                try int32(dY.count, name), .int(op.rawValue), try int32(output.count, name), try layout(output, name),
                try layout(PrimitiveShapes.broadcastStrides(a.shape, to: output), name),
                try layout(PrimitiveShapes.broadcastStrides(b.shape, to: output), name),
            ])
        }
        return (try unbroadcast(dA, to: a.shape), try unbroadcast(dB, to: b.shape))
    }

    public func unary(_ op: UnaryOp, _ x: Tensor) throws -> Tensor {
        try PrimitiveShapes.rank(x.shape, "x", op: "unary")
        let y = try empty(x.shape)
        guard x.count > 0 else { return y }
        try launchElements("unary", in: .primitives, count: x.count, arguments: [
            try arg(x, "unary"), try arg(y, "unary"), try int32(x.count, "unary"), .int(op.rawValue),
        ])
        return y
    }

    public func unaryBackward(_ op: UnaryOp, _ x: Tensor, _ dY: Tensor) throws -> Tensor {
        try Shapes.same(x.shape, dY.shape, op: "unaryBackward", names: ("x", "dY"))
        let dX = try empty(x.shape)
        guard x.count > 0 else { return dX }
        try launchElements("unary_backward", in: .primitives, count: x.count, arguments: [
            try arg(x, "unaryBackward"), try arg(dY, "unaryBackward"), try arg(dX, "unaryBackward"),
            try int32(x.count, "unaryBackward"), .int(op.rawValue),
        ])
        return dX
    }

    /// `op` over the axes `reduced` of `x`; the output holds the kept axes in order.
    private func reduceAxes(_ op: ReduceOp, _ x: Tensor, reduced: [Int], name: String) throws -> Tensor {
        let strides = PrimitiveShapes.strides(x.shape), kept = x.shape.indices.filter { !reduced.contains($0) }
        let keptShape = kept.map { x.shape[$0] }, reducedShape = reduced.map { x.shape[$0] }
        let y = try empty(keptShape)
        guard y.count > 0 else { return y }
        try launchElements("reduce_axes", in: .primitives, count: y.count, arguments: [
            try arg(x, name), try arg(y, name), try int32(y.count, name), .int(op.rawValue),
            try int32(kept.count, name), try layout(keptShape, name), try layout(kept.map { strides[$0] }, name),
            try int32(reduced.count, name), try layout(reducedShape, name), try layout(reduced.map { strides[$0] }, name),
            try int32(reducedShape.reduce(1, *), name),
        ])
        return y
    }

    public func reduce(_ op: ReduceOp, _ x: Tensor, axes: [Int], keepDimensions: Bool) throws -> Tensor {
        let r = try PrimitiveShapes.reduced(x.shape, axes: axes, keepDimensions: keepDimensions, op: "reduce")
        try PrimitiveShapes.nonEmpty(op, x.shape, reduced: r.reduced)
        return try reduceAxes(op, x, reduced: r.reduced, name: "reduce").reshaped(r.output)
    }

    public func reduceBackward(_ op: ReduceOp, _ x: Tensor, axes: [Int], _ dY: Tensor) throws -> Tensor {
        let reduced = try PrimitiveShapes.reducedGradient(x.shape, axes: axes, dY: dY.shape, op: "reduceBackward")
        try PrimitiveShapes.nonEmpty(op, x.shape, reduced: reduced)
        let keptShape = x.shape.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element }
        let upstream = try broadcast(try dY.reshaped(keptShape), to: x.shape)
        guard op == .max else { return upstream }
        // torch.amax: the gradient split evenly between the elements equal to the maximum.
        let maxima = try reduceAxes(.max, x, reduced: reduced, name: "reduceBackward").reshaped(keptShape)
        let hits = try binary(.equal, x, maxima)
        let ties = try reduceAxes(.sum, hits, reduced: reduced, name: "reduceBackward").reshaped(keptShape)
        return try binary(.multiply, hits, try binary(.divide, upstream, ties))
    }

    public func transpose(_ x: Tensor, permutation: [Int]) throws -> Tensor {
        try PrimitiveShapes.rank(x.shape, "x", op: "transpose")
        try PrimitiveShapes.permutation(permutation, rank: x.rank, op: "transpose")
        let shape = permutation.map { x.shape[$0] }, strides = PrimitiveShapes.strides(x.shape)
        let y = try empty(shape)
        try stridedCopy(x, strides: permutation.map { strides[$0] }, into: y, strides: PrimitiveShapes.strides(shape),
                        shape: shape, op: "transpose")
        return y
    }

    public func broadcast(_ x: Tensor, to shape: [Int]) throws -> Tensor {
        try PrimitiveShapes.broadcastable(x.shape, to: shape, op: "broadcast")
        let y = try empty(shape)
        try stridedCopy(x, strides: PrimitiveShapes.broadcastStrides(x.shape, to: shape), into: y,
                        strides: PrimitiveShapes.strides(shape), shape: shape, op: "broadcast")
        return y
    }

    public func unbroadcast(_ dY: Tensor, to shape: [Int]) throws -> Tensor {
        try PrimitiveShapes.broadcastable(shape, to: dY.shape, op: "unbroadcast")
        let padded = [Int](repeating: 1, count: dY.rank - shape.count) + shape
        let reduced = dY.shape.indices.filter { padded[$0] == 1 && dY.shape[$0] != 1 }
        guard !reduced.isEmpty else { return try copy(try dY.reshaped(shape)) }
        return try reduceAxes(.sum, dY, reduced: reduced, name: "unbroadcast").reshaped(shape)
    }

    public func concatenate(_ parts: [Tensor], axis: Int) throws -> Tensor {
        let (shape, a) = try PrimitiveShapes.concatenated(parts.map(\.shape), axis: axis, op: "concatenate")
        let y = try empty(shape), yStrides = PrimitiveShapes.strides(shape)
        var start = 0
        for part in parts {
            try stridedCopy(part, strides: PrimitiveShapes.strides(part.shape), into: y, at: start * yStrides[a],
                            strides: yStrides, shape: part.shape, op: "concatenate")
            start += part.shape[a]
        }
        return y
    }

    public func slice(_ x: Tensor, axis: Int, range: Range<Int>) throws -> Tensor {
        let (shape, a) = try PrimitiveShapes.sliced(x.shape, axis: axis, range: range, op: "slice")
        let strides = PrimitiveShapes.strides(x.shape), y = try empty(shape)
        try stridedCopy(x, offset: range.lowerBound * strides[a], strides: strides, into: y, strides: PrimitiveShapes.strides(shape),
                        shape: shape, op: "slice")
        return y
    }
}
