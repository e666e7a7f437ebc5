// Element-wise ops, the L2-normalisation gradient and soft-target cross-entropy
// (Kernels/elementwise.cl).
import COpenCL

extension OpenCLBackend {
    public func axpby(_ x: Tensor, alpha: Float, beta: Float, into y: Tensor) throws {
        try Shapes.same(x.shape, y.shape, op: "axpby", names: ("x", "y"))
        guard x.count > 0 else { return }
        try launchElements("axpby", in: .elementwise, count: x.count, arguments: [
            try arg(x, "axpby"), try arg(y, "axpby"), try int32(x.count, "axpby"), .float(alpha), .float(beta),
        ])
    }

    public func copy(_ x: Tensor) throws -> Tensor {
        let source = try deviceBuffer(x, op: "copy")
        let y = try empty(x.shape)
        guard x.count > 0 else { return y }
        var event: cl_event? = nil
        try check(clEnqueueCopyBuffer(context.queue, source.mem, try deviceBuffer(y, op: "copy").mem, 0, 0,
                                      x.count * 4, 0, nil, &event), "clEnqueueCopyBuffer")
        context.record(event, name: "copy")
        return y
    }

    public func rows(_ x: Tensor, _ range: Range<Int>) throws -> Tensor {
        let (width, shape) = try Shapes.rows(x.shape, range)
        let out = try empty(shape)
        try copyRows(try x.reshaped([x.shape[0], width]), rows: range, into: try out.reshaped([range.count, width]),
                     at: 0, op: "rows")
        return out
    }

    public func concatenateRows(_ parts: [Tensor]) throws -> Tensor {
        let (width, shape) = try Shapes.concatenatedRows(parts.map(\.shape))
        let out = try empty(shape)
        var row = 0
        for part in parts {
            try copyRows(try part.reshaped([part.shape[0], width]), rows: 0..<part.shape[0],
                         into: try out.reshaped([shape[0], width]), at: row, op: "concatenateRows")
            row += part.shape[0]
        }
        return out
    }

    public func l2NormalizeBackward(_ x: Tensor, _ dY: Tensor, eps: Float) throws -> Tensor {
        let op = "l2NormalizeBackward"
        let (rows, cols) = try Shapes.rows(x.shape, op: op)
        try Shapes.same(x.shape, dY.shape, op: op, names: ("x", "dY"))
        let dx = try empty(x.shape)
        try launchRows("l2_normalize_backward", in: .elementwise, rows: rows, length: cols, arguments: [
            try arg(x, op), try arg(dY, op), try arg(dx, op), try int32(cols, op), .float(eps),
        ])
        return dx
    }

    public func softCrossEntropy(_ logits: Tensor, targets: Tensor, scale: Float) throws -> CrossEntropyResult {
        let op = "softCrossEntropy"
        let (n, c) = try Shapes.matrix(logits.shape, op: op, name: "logits")
        try Shapes.same(logits.shape, targets.shape, op: op, names: ("logits", "targets"))
        let rowLoss = try empty([1, n]), dLogits = try empty([n, c])
        try launchRows("soft_cross_entropy", in: .elementwise, rows: n, length: c, arguments: [
            try arg(logits, op), try arg(targets, op), try arg(rowLoss, op), try arg(dLogits, op),
            try int32(c, op), .float(scale), .float(Float(1 / Double(n))),
        ])
        return CrossEntropyResult(loss: try mean(rowLoss, axis: 1).reshaped([]), dLogits: dLogits)
    }
}
