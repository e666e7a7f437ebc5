// Row ops (Kernels/normalize.cl, softmax.cl) and reductions along an axis (Kernels/reduce.cl).

extension OpenCLBackend {
    public func l2Normalize(_ x: Tensor, eps: Float) throws -> Tensor {
        let (rows, cols) = try Shapes.rows(x.shape, op: "l2Normalize")
        try Shapes.validEps(eps, op: "l2Normalize")
        let y = try empty(x.shape)
        try launchRows("l2_normalize_rows", in: .normalize, rows: rows, length: cols, arguments: [
            try arg(x, "l2Normalize"), try arg(y, "l2Normalize"), try int32(cols, "l2Normalize"), .float(eps),
        ])
        return y
    }

    public func softmax(_ x: Tensor) throws -> Tensor { try rowSoftmax(x, logarithm: false) }

    public func logSoftmax(_ x: Tensor) throws -> Tensor { try rowSoftmax(x, logarithm: true) }

    private func rowSoftmax(_ x: Tensor, logarithm: Bool) throws -> Tensor {
        let op = logarithm ? "logSoftmax" : "softmax"
        let (rows, cols) = try Shapes.rows(x.shape, op: op)
        let y = try empty(x.shape)
        try launchRows("softmax_rows", in: .softmax, rows: rows, length: cols, arguments: [
            try arg(x, op), try arg(y, op), try int32(cols, op), .int(logarithm ? 1 : 0),
        ])
        return y
    }

    public func sum(_ x: Tensor, axis: Int) throws -> Tensor { try reduce(x, axis: axis, op: "sum", mean: false) }

    public func mean(_ x: Tensor, axis: Int) throws -> Tensor { try reduce(x, axis: axis, op: "mean", mean: true) }

    private func reduce(_ x: Tensor, axis: Int, op: String, mean: Bool) throws -> Tensor {
        let r = try Shapes.reduction(x.shape, axis: axis, op: op)
        let out = try empty(r.result)
        let scale: Float = mean ? Float(1 / Double(r.length)) : 1
        if r.inner == 1 {
            try launchRows("sum_rows", in: .reduce, rows: r.outer, length: r.length, arguments: [
                try arg(x, op), try arg(out, op), try int32(r.length, op), .float(scale),
            ])
        } else {
            try launchElements("sum_strided", in: .reduce, count: r.outer * r.inner, arguments: [
                try arg(x, op), try arg(out, op), try int32(r.outer, op), try int32(r.length, op),
                try int32(r.inner, op), .float(scale),
            ])
        }
        return out
    }

    /// ‖x_r‖² of each row of a matrix `(R, C)`, as `(R)`: the norms of distances by GEMM.
    func rowSquaredNorms(_ x: Tensor, op: String) throws -> Tensor {
        let out = try empty([x.shape[0]])
        try launchRows("row_squared_norms", in: .reduce, rows: x.shape[0], length: x.shape[1], arguments: [
            try arg(x, op), try arg(out, op), try int32(x.shape[1], op),
        ])
        return out
    }
}
