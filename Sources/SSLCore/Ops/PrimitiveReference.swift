// The primitives in Double (ReferenceBackend+Primitives.swift, and the tests' finite differences).
import Foundation

/// The primitives of ``PrimitiveOps`` on row-major Double arrays; shapes are checked by the
/// callers (the backends, with the shape rules both share).
public enum PrimitiveReference {
    /// The offset, with `strides`, of the element at row-major position `index` of `shape`.
    static func offset(_ index: Int, shape: [Int], strides: [Int]) -> Int {
        var i = index, offset = 0
        for d in shape.indices.reversed() where shape[d] > 0 {
            offset += (i % shape[d]) * strides[d]
            i /= shape[d]
        }
        return offset
    }

    /// The elements of `x` read through `strides` (from `base`) in the row-major order of `shape`:
    /// a transpose, a broadcast or a slice, depending on the strides.
    static func gather(_ x: [Double], shape: [Int], strides: [Int], base: Int = 0) -> [Double] {
        (0..<shape.reduce(1, *)).map { x[base + offset($0, shape: shape, strides: strides)] }
    }

    public static func apply(_ op: BinaryOp, _ a: Double, _ b: Double) -> Double {
        switch op {
        case .add: return a + b
        case .subtract: return a - b
        case .multiply: return a * b
        case .divide: return a / b
        case .power: return Foundation.pow(a, b)
        case .equal: return a == b ? 1 : 0
        }
    }

    /// ∂op/∂a and ∂op/∂b at (a, b); `torch.pow`'s masks: ∂/∂a is 0 where b = 0, ∂/∂b is 0 where
    /// a = 0 and b ≥ 0.
    public static func partials(_ op: BinaryOp, _ a: Double, _ b: Double) -> (Double, Double) {
        switch op {
        case .add: return (1, 1)
        case .subtract: return (1, -1)
        case .multiply: return (b, a)
        case .divide: return (1 / b, -a / (b * b))
        case .power:
            return (b == 0 ? 0 : b * Foundation.pow(a, b - 1), a == 0 && b >= 0 ? 0 : Foundation.pow(a, b) * Foundation.log(a))
        case .equal: return (0, 0)
        }
    }

    public static func binary(_ op: BinaryOp, _ a: [Double], _ aShape: [Int], _ b: [Double], _ bShape: [Int],
                              output: [Int]) -> [Double] {
        let sa = PrimitiveShapes.broadcastStrides(aShape, to: output), sb = PrimitiveShapes.broadcastStrides(bShape, to: output)
        return (0..<output.reduce(1, *)).map {
            apply(op, a[offset($0, shape: output, strides: sa)], b[offset($0, shape: output, strides: sb)])
        }
    }

    public static func binaryBackward(_ op: BinaryOp, _ a: [Double], _ aShape: [Int], _ b: [Double], _ bShape: [Int],
                                      dY: [Double], output: [Int]) -> (dA: [Double], dB: [Double]) {
        let sa = PrimitiveShapes.broadcastStrides(aShape, to: output), sb = PrimitiveShapes.broadcastStrides(bShape, to: output)
        var dA = [Double](repeating: 0, count: a.count), dB = [Double](repeating: 0, count: b.count)
        for i in 0..<dY.count {
            let ia = offset(i, shape: output, strides: sa), ib = offset(i, shape: output, strides: sb)
            let (ga, gb) = partials(op, a[ia], b[ib])
            dA[ia] += dY[i] * ga
            dB[ib] += dY[i] * gb
        }
        return (dA, dB)
    }

    public static func unary(_ op: UnaryOp, _ x: [Double]) -> [Double] {
        x.map { op == .exp ? Foundation.exp($0) : Foundation.log($0) }
    }

    public static func unaryBackward(_ op: UnaryOp, _ x: [Double], dY: [Double]) -> [Double] {
        zip(x, dY).map { op == .exp ? $1 * Foundation.exp($0) : $1 / $0 }
    }

    /// `op` over the axes `reduced` (sorted, in range); the output in the order of the kept axes.
    public static func reduce(_ op: ReduceOp, _ x: [Double], shape: [Int], reduced: [Int]) -> [Double] {
        let strides = PrimitiveShapes.strides(shape), kept = shape.indices.filter { !reduced.contains($0) }
        let keptShape = kept.map { shape[$0] }, reducedShape = reduced.map { shape[$0] }
        let reducedCount = reducedShape.reduce(1, *)
        return (0..<keptShape.reduce(1, *)).map { o in
            let base = offset(o, shape: keptShape, strides: kept.map { strides[$0] })
            var acc = op == .sum ? 0.0 : -Double.infinity
            for r in 0..<reducedCount {
                let v = x[base + offset(r, shape: reducedShape, strides: reduced.map { strides[$0] })]
                if op == .sum { acc += v } else if !acc.isNaN && (v.isNaN || v > acc) { acc = v }  // NaN wins
            }
            return acc
        }
    }

    /// ∂L/∂x of ``reduce(_:_:shape:reduced:)`` from `dY` in the kept axes' order.
    public static func reduceBackward(_ op: ReduceOp, _ x: [Double], shape: [Int], reduced: [Int], dY: [Double]) -> [Double] {
        let keptShape = shape.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element }
        let spread = PrimitiveShapes.broadcastStrides(keptShape, to: shape)
        let upstream = (0..<x.count).map { dY[offset($0, shape: shape, strides: spread)] }
        guard op == .max else { return upstream }
        let m = reduce(.max, x, shape: shape, reduced: reduced)
        let maxima = (0..<x.count).map { m[offset($0, shape: shape, strides: spread)] }
        let hits = (0..<x.count).map { x[$0] == maxima[$0] ? 1.0 : 0 }
        let ties = reduce(.sum, hits, shape: shape, reduced: reduced)
        return (0..<x.count).map { hits[$0] * upstream[$0] / ties[offset($0, shape: shape, strides: spread)] }
    }

    public static func transpose(_ x: [Double], shape: [Int], permutation: [Int]) -> [Double] {
        let strides = PrimitiveShapes.strides(shape)
        return gather(x, shape: permutation.map { shape[$0] }, strides: permutation.map { strides[$0] })
    }

    public static func broadcast(_ x: [Double], shape: [Int], to output: [Int]) -> [Double] {
        gather(x, shape: output, strides: PrimitiveShapes.broadcastStrides(shape, to: output))
    }

    public static func unbroadcast(_ dY: [Double], shape dYShape: [Int], to shape: [Int]) -> [Double] {
        let strides = PrimitiveShapes.broadcastStrides(shape, to: dYShape)
        var out = [Double](repeating: 0, count: shape.reduce(1, *))
        for i in 0..<dY.count { out[offset(i, shape: dYShape, strides: strides)] += dY[i] }
        return out
    }

    public static func concatenate(_ parts: [(values: [Double], shape: [Int])], axis: Int) -> [Double] {
        let outer = parts[0].shape[..<axis].reduce(1, *)
        var out: [Double] = []
        for o in 0..<outer {
            for part in parts {
                let block = part.shape[axis...].reduce(1, *)
                out += part.values[(o * block)..<((o + 1) * block)]
            }
        }
        return out
    }

    public static func slice(_ x: [Double], shape: [Int], axis: Int, range: Range<Int>) -> [Double] {
        var out = shape
        out[axis] = range.count
        return gather(x, shape: out, strides: PrimitiveShapes.strides(shape), base: range.lowerBound * PrimitiveShapes.strides(shape)[axis])
    }
}
