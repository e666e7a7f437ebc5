// Reference element-wise ops, the L2-normalisation gradient and soft-target cross-entropy.
import Foundation

extension ReferenceBackend {
    public func axpby(_ x: Tensor, alpha: Float, beta: Float, into y: Tensor) throws {
        try Shapes.same(x.shape, y.shape, op: "axpby", names: ("x", "y"))
        let xv = try values(x, op: "axpby")
        guard let out = y.hostBuffer else {
            throw SSLError.wrongBackend(op: "axpby", expected: "the reference backend", found: y.location)
        }
        for i in 0..<xv.count {
            let scaled = beta == 0 ? 0 : Double(beta) * Double(out.values[i])  // beta = 0 does not read y
            out.values[i] = Float(Double(alpha) * Double(xv[i]) + scaled)
        }
    }

    public func copy(_ x: Tensor) throws -> Tensor { make(try values(x, op: "copy"), x.shape) }

    public func rows(_ x: Tensor, _ range: Range<Int>) throws -> Tensor {
        let (width, shape) = try Shapes.rows(x.shape, range)
        return make(Array(try values(x, op: "rows")[(range.lowerBound * width)..<(range.upperBound * width)]), shape)
    }

    public func concatenateRows(_ parts: [Tensor]) throws -> Tensor {
        let (_, shape) = try Shapes.concatenatedRows(parts.map(\.shape))
        return make(try parts.flatMap { try values($0, op: "concatenateRows") }, shape)
    }

    public func fill(_ tensor: Tensor, with value: Float) throws {
        guard let buffer = tensor.hostBuffer else {
            throw SSLError.wrongBackend(op: "fill", expected: "the reference backend", found: tensor.location)
        }
        for i in buffer.values.indices { buffer.values[i] = value }
    }

    public func l2NormalizeBackward(_ x: Tensor, _ dY: Tensor, eps: Float) throws -> Tensor {
        let (rows, cols) = try Shapes.rows(x.shape, op: "l2NormalizeBackward")
        try Shapes.same(x.shape, dY.shape, op: "l2NormalizeBackward", names: ("x", "dY"))
        let dx = L2Normalize.backward(x: try values(x, op: "l2NormalizeBackward").map(Double.init),
                                      dY: try values(dY, op: "l2NormalizeBackward").map(Double.init),
                                      rows: rows, cols: cols, eps: Double(eps))
        return make(dx.map(Float.init), x.shape)
    }

    public func softCrossEntropy(_ logits: Tensor, targets: Tensor, scale: Float) throws -> CrossEntropyResult {
        let (n, c) = try Shapes.matrix(logits.shape, op: "softCrossEntropy", name: "logits")
        try Shapes.same(logits.shape, targets.shape, op: "softCrossEntropy", names: ("logits", "targets"))
        let r = SoftCrossEntropy.evaluate(logits: try values(logits, op: "softCrossEntropy").map(Double.init),
                                          targets: try values(targets, op: "softCrossEntropy").map(Double.init),
                                          rows: n, cols: c, scale: Double(scale))
        return CrossEntropyResult(loss: make([Float(r.loss)], []), dLogits: make(r.dLogits.map(Float.init), [n, c]))
    }
}

/// Row L2 normalisation in Double: the reference, and the finite-difference ground truth.
public enum L2Normalize {
    public static func forward(_ x: [Double], rows: Int, cols: Int, eps: Double) -> [Double] {
        var y = x
        for r in 0..<rows {
            let norm = max((0..<cols).reduce(0.0) { $0 + x[r * cols + $1] * x[r * cols + $1] }.squareRoot(), eps)
            for j in 0..<cols { y[r * cols + j] = x[r * cols + j] / norm }
        }
        return y
    }

    /// dx = (dy − y⟨y, dy⟩)/‖x‖ where ‖x‖ > eps; dy/eps where the norm was clamped.
    public static func backward(x: [Double], dY: [Double], rows: Int, cols: Int, eps: Double) -> [Double] {
        var dx = dY
        for r in 0..<rows {
            let range = (r * cols)..<((r + 1) * cols)
            let norm = range.reduce(0.0) { $0 + x[$1] * x[$1] }.squareRoot()
            if norm <= eps {
                for i in range { dx[i] = dY[i] / eps }
                continue
            }
            let dot = range.reduce(0.0) { $0 + x[$1] * dY[$1] } / norm  // ⟨y, dy⟩
            for i in range { dx[i] = (dY[i] - x[i] / norm * dot) / norm }
        }
        return dx
    }
}

/// Soft-target cross-entropy in Double: the reference, and the finite-difference ground truth.
public enum SoftCrossEntropy {
    public static func evaluate(logits: [Double], targets: [Double], rows: Int, cols: Int,
                                scale: Double) -> (loss: Double, dLogits: [Double]) {
        var loss = 0.0
        var grad = [Double](repeating: 0, count: rows * cols)
        for r in 0..<rows {
            let z = (0..<cols).map { scale * logits[r * cols + $0] }
            let lse = logSumExp(z)
            let mass = (0..<cols).reduce(0.0) { $0 + targets[r * cols + $1] }
            for j in 0..<cols {
                let t = targets[r * cols + j]
                if t != 0 { loss -= t * (z[j] - lse) }
                grad[r * cols + j] = scale * (exp(z[j] - lse) * mass - t) / Double(rows)
            }
        }
        return (loss / Double(rows), grad)
    }
}
