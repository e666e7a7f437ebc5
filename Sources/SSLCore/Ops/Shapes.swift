// Shape rules shared by both backends, so the two throw the same errors for the same inputs.

enum Shapes {
    struct Gemm { let m: Int, n: Int, k: Int }

    /// `op(a)` is (M, K) and `op(b)` is (K, N).
    static func gemm(_ a: [Int], _ b: [Int], transposeA: Bool, transposeB: Bool) throws -> Gemm {
        guard a.count == 2, b.count == 2 else {
            throw SSLError.shapeMismatch(op: "gemm", detail: "a \(shapeText(a)) and b \(shapeText(b)) must both be matrices")
        }
        let (m, ka) = transposeA ? (a[1], a[0]) : (a[0], a[1])
        let (kb, n) = transposeB ? (b[1], b[0]) : (b[0], b[1])
        guard ka == kb else {
            let aText = "a \(shapeText(a))\(transposeA ? " (transposed)" : "")"
            let bText = "b \(shapeText(b))\(transposeB ? " (transposed)" : "")"
            throw SSLError.shapeMismatch(
                op: "gemm", detail: "\(aText) and \(bText): op(a) has \(ka) columns but op(b) has \(kb) rows")
        }
        guard m > 0, n > 0, ka > 0 else {
            throw SSLError.shapeMismatch(op: "gemm", detail: "a \(shapeText(a)) and b \(shapeText(b)) have an empty dimension")
        }
        return Gemm(m: m, n: n, k: ka)
    }

    static func gemm(_ a: [Int], _ b: [Int], c: [Int], transposeA: Bool, transposeB: Bool) throws -> Gemm {
        let g = try gemm(a, b, transposeA: transposeA, transposeB: transposeB)
        guard c == [g.m, g.n] else {
            throw SSLError.shapeMismatch(op: "gemm", detail: "c is \(shapeText(c)) but op(a)·op(b) is \(shapeText([g.m, g.n]))")
        }
        return g
    }

    /// A non-empty matrix: (rows, columns).
    static func matrix(_ shape: [Int], op: String, name: String) throws -> (rows: Int, cols: Int) {
        guard shape.count == 2 else {
            throw SSLError.shapeMismatch(op: op, detail: "\(name) must be a matrix, got shape \(shapeText(shape))")
        }
        guard shape[0] > 0, shape[1] > 0 else {
            throw SSLError.shapeMismatch(op: op, detail: "\(name) \(shapeText(shape)) is empty")
        }
        return (shape[0], shape[1])
    }

    /// A non-empty tensor of rank ≥ 1 seen as (rows, last axis).
    static func rows(_ shape: [Int], op: String) throws -> (rows: Int, cols: Int) {
        guard let cols = shape.last, shape.allSatisfy({ $0 > 0 }) else {
            throw SSLError.shapeMismatch(op: op, detail: "input \(shapeText(shape)) must be non-empty with rank ≥ 1")
        }
        return (shape.dropLast().reduce(1, *), cols)
    }

    /// A reduction of `shape` along `axis` seen as (outer, length, inner), and the result's shape.
    static func reduction(_ shape: [Int], axis: Int, op: String) throws
        -> (outer: Int, length: Int, inner: Int, result: [Int]) {
        guard axis >= 0, axis < shape.count else {
            throw SSLError.invalidArgument(op: op, detail: "axis \(axis) is out of range for shape \(shapeText(shape))")
        }
        guard shape.allSatisfy({ $0 > 0 }) else {
            throw SSLError.shapeMismatch(op: op, detail: "input \(shapeText(shape)) is empty")
        }
        var result = shape
        result.remove(at: axis)
        return (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *), result)
    }

    static func crossCorrelation(_ z1: [Int], _ z2: [Int]) throws -> (n: Int, d: Int) {
        let (n, d) = try matrix(z1, op: "crossCorrelation", name: "z1")
        _ = try matrix(z2, op: "crossCorrelation", name: "z2")
        guard z1 == z2 else {
            throw SSLError.shapeMismatch(op: "crossCorrelation", detail: "z1 is \(shapeText(z1)) but z2 is \(shapeText(z2))")
        }
        return (n, d)
    }

    static func sinkhorn(_ scores: [Int], epsilon: Float, iterations: Int) throws -> (b: Int, k: Int) {
        let (b, k) = try matrix(scores, op: "sinkhorn", name: "scores")
        guard epsilon > 0, epsilon.isFinite else {
            throw SSLError.invalidArgument(op: "sinkhorn", detail: "epsilon must be a positive finite number, got \(epsilon)")
        }
        // The kernels scale by 1/ε in float32, which overflows below ~2.9e-39.
        guard (1 / epsilon).isFinite else {
            throw SSLError.invalidArgument(op: "sinkhorn", detail: "epsilon \(epsilon) is below \(1 / Float.greatestFiniteMagnitude), "
                                           + "the smallest whose reciprocal float32 holds")
        }
        guard (1...IterativeSolvers.maxIterations).contains(iterations) else {
            throw SSLError.invalidArgument(op: "sinkhorn", detail: "iterations must be 1...\(IterativeSolvers.maxIterations), got \(iterations)")
        }
        return (b, k)
    }

    static func validEps(_ eps: Float, op: String) throws {
        guard eps >= 0, eps.isFinite else {
            throw SSLError.invalidArgument(op: op, detail: "eps must be a non-negative finite number, got \(eps)")
        }
    }

    /// Two tensors that must have the same shape.
    static func same(_ a: [Int], _ b: [Int], op: String, names: (String, String)) throws {
        guard a == b else {
            throw SSLError.shapeMismatch(op: op, detail: "\(names.0) is \(shapeText(a)) but \(names.1) is \(shapeText(b))")
        }
    }

    /// `range` must lie inside the first axis of a non-scalar `shape`; returns the row width and result shape.
    static func rows(_ shape: [Int], _ range: Range<Int>) throws -> (width: Int, result: [Int]) {
        guard let first = shape.first, range.lowerBound >= 0, range.upperBound <= first else {
            throw SSLError.invalidArgument(op: "rows", detail: "rows \(range) lie outside the first axis of \(shapeText(shape))")
        }
        return (shape.dropFirst().reduce(1, *), [range.count] + shape.dropFirst())
    }

    /// ``Backend/concatenateRows(_:)``: parts of one shape but the first axis.
    static func concatenatedRows(_ shapes: [[Int]]) throws -> (width: Int, result: [Int]) {
        let op = "concatenateRows"
        guard let first = shapes.first, !first.isEmpty else {
            throw SSLError.invalidArgument(op: op, detail: "needs at least one tensor of rank ≥ 1")
        }
        if let other = shapes.first(where: { $0.count != first.count || Array($0.dropFirst()) != Array(first.dropFirst()) }) {
            throw SSLError.shapeMismatch(op: op, detail: "\(shapeText(other)) and \(shapeText(first)) differ beyond the first axis")
        }
        return (first.dropFirst().reduce(1, *), [shapes.reduce(0) { $0 + $1[0] }] + first.dropFirst())
    }
}

/// Bounds of the iterative solvers' arguments.
public enum IterativeSolvers {
    /// The most iterations Sinkhorn-Knopp and k-means take (the papers use 3 and 20): a larger
    /// count is a typo that would run for ever, not a request.
    public static let maxIterations = 10_000
}
