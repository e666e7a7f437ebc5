// Reference row ops: L2 normalisation, softmax, log-softmax; and sums along an axis.
import Foundation

extension ReferenceBackend {
    public func l2Normalize(_ x: Tensor, eps: Float) throws -> Tensor {
        let (rows, cols) = try Shapes.rows(x.shape, op: "l2Normalize")
        try Shapes.validEps(eps, op: "l2Normalize")
        let v = try values(x, op: "l2Normalize")
        var y = [Float](repeating: 0, count: v.count)
        for r in 0..<rows {
            let row = v[(r * cols)..<((r + 1) * cols)]
            let norm = row.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let scale = 1 / max(norm, Double(eps))
            for j in 0..<cols { y[r * cols + j] = Float(Double(v[r * cols + j]) * scale) }
        }
        return make(y, x.shape)
    }

    public func softmax(_ x: Tensor) throws -> Tensor { try rowSoftmax(x, logarithm: false) }

    public func logSoftmax(_ x: Tensor) throws -> Tensor { try rowSoftmax(x, logarithm: true) }

    private func rowSoftmax(_ x: Tensor, logarithm: Bool) throws -> Tensor {
        let op = logarithm ? "logSoftmax" : "softmax"
        let (rows, cols) = try Shapes.rows(x.shape, op: op)
        let v = try values(x, op: op)
        var y = [Float](repeating: 0, count: v.count)
        for r in 0..<rows {
            let row = (0..<cols).map { Double(v[r * cols + $0]) }
            let lse = logSumExp(row)
            for j in 0..<cols { y[r * cols + j] = Float(logarithm ? row[j] - lse : exp(row[j] - lse)) }
        }
        return make(y, x.shape)
    }

    public func sum(_ x: Tensor, axis: Int) throws -> Tensor { try reduce(x, axis: axis, op: "sum", mean: false) }

    public func mean(_ x: Tensor, axis: Int) throws -> Tensor { try reduce(x, axis: axis, op: "mean", mean: true) }

    private func reduce(_ x: Tensor, axis: Int, op: String, mean: Bool) throws -> Tensor {
        let r = try Shapes.reduction(x.shape, axis: axis, op: op)
        let v = try values(x, op: op)
        var out = [Float](repeating: 0, count: r.outer * r.inner)
        for o in 0..<r.outer {
            for i in 0..<r.inner {
                var acc = 0.0
                for l in 0..<r.length { acc += Double(v[(o * r.length + l) * r.inner + i]) }
                out[o * r.inner + i] = Float(mean ? acc / Double(r.length) : acc)
            }
        }
        return make(out, r.result)
    }
}
