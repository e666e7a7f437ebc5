// Reference primitives: PrimitiveReference in Double on host tensors.

extension ReferenceBackend: PrimitiveOps {
    private func doubles(_ x: Tensor, _ op: String) throws -> [Double] { try values(x, op: op).map(Double.init) }
    private func make(_ values: [Double], _ shape: [Int]) -> Tensor { make(values.map(Float.init), shape) }

    public func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        let output = try PrimitiveShapes.broadcast(a.shape, b.shape, op: "binary")
        return make(PrimitiveReference.binary(op, try doubles(a, "binary"), a.shape, try doubles(b, "binary"), b.shape,
                                              output: output), output)
    }

    public func binaryBackward(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, _ dY: Tensor) throws -> (dA: Tensor, dB: Tensor) {
        let output = try PrimitiveShapes.broadcast(a.shape, b.shape, op: "binaryBackward")
        try Shapes.same(dY.shape, output, op: "binaryBackward", names: ("dY", "the broadcast output"))
        let r = PrimitiveReference.binaryBackward(op, try doubles(a, "binaryBackward"), a.shape, try doubles(b, "binaryBackward"),
                                                  b.shape, dY: try doubles(dY, "binaryBackward"), output: output)
        return (make(r.dA, a.shape), make(r.dB, b.shape))
    }

    public func unary(_ op: UnaryOp, _ x: Tensor) throws -> Tensor {
        try PrimitiveShapes.rank(x.shape, "x", op: "unary")
        return make(PrimitiveReference.unary(op, try doubles(x, "unary")), x.shape)
    }

    public func unaryBackward(_ op: UnaryOp, _ x: Tensor, _ dY: Tensor) throws -> Tensor {
        try Shapes.same(x.shape, dY.shape, op: "unaryBackward", names: ("x", "dY"))
        return make(PrimitiveReference.unaryBackward(op, try doubles(x, "unaryBackward"), dY: try doubles(dY, "unaryBackward")), x.shape)
    }

    public func reduce(_ op: ReduceOp, _ x: Tensor, axes: [Int], keepDimensions: Bool) throws -> Tensor {
        let r = try PrimitiveShapes.reduced(x.shape, axes: axes, keepDimensions: keepDimensions, op: "reduce")
        try PrimitiveShapes.nonEmpty(op, x.shape, reduced: r.reduced)
        return make(PrimitiveReference.reduce(op, try doubles(x, "reduce"), shape: x.shape, reduced: r.reduced), r.output)
    }

    public func reduceBackward(_ op: ReduceOp, _ x: Tensor, axes: [Int], _ dY: Tensor) throws -> Tensor {
        let r = try PrimitiveShapes.reducedGradient(x.shape, axes: axes, dY: dY.shape, op: "reduceBackward")
        try PrimitiveShapes.nonEmpty(op, x.shape, reduced: r)
        return make(PrimitiveReference.reduceBackward(op, try doubles(x, "reduceBackward"), shape: x.shape, reduced: r,
                                                      dY: try doubles(dY, "reduceBackward")), x.shape)
    }

    public func transpose(_ x: Tensor, permutation: [Int]) throws -> Tensor {
        try PrimitiveShapes.rank(x.shape, "x", op: "transpose")
        try PrimitiveShapes.permutation(permutation, rank: x.rank, op: "transpose")
        return make(PrimitiveReference.transpose(try doubles(x, "transpose"), shape: x.shape, permutation: permutation),
                    permutation.map { x.shape[$0] })
    }

    public func broadcast(_ x: Tensor, to shape: [Int]) throws -> Tensor {
        try PrimitiveShapes.broadcastable(x.shape, to: shape, op: "broadcast")
        return make(PrimitiveReference.broadcast(try doubles(x, "broadcast"), shape: x.shape, to: shape), shape)
    }

    public func unbroadcast(_ dY: Tensor, to shape: [Int]) throws -> Tensor {
        try PrimitiveShapes.broadcastable(shape, to: dY.shape, op: "unbroadcast")
        return make(PrimitiveReference.unbroadcast(try doubles(dY, "unbroadcast"), shape: dY.shape, to: shape), shape)
    }

    public func concatenate(_ parts: [Tensor], axis: Int) throws -> Tensor {
        let (shape, a) = try PrimitiveShapes.concatenated(parts.map(\.shape), axis: axis, op: "concatenate")
        return make(PrimitiveReference.concatenate(try parts.map { (try doubles($0, "concatenate"), $0.shape) }, axis: a), shape)
    }

    public func slice(_ x: Tensor, axis: Int, range: Range<Int>) throws -> Tensor {
        let (shape, a) = try PrimitiveShapes.sliced(x.shape, axis: axis, range: range, op: "slice")
        return make(PrimitiveReference.slice(try doubles(x, "slice"), shape: x.shape, axis: a, range: range), shape)
    }
}
