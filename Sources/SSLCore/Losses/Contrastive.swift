// Rules and Double helpers shared by the contrastive objectives (NTXent.swift, MoCo.swift,
// MemoryBank.swift): one temperature check, one normalisation epsilon, row dot products.

/// Checks shared by the contrastive objectives, so both backends throw the same errors.
enum ContrastiveRules {
    /// `torch.nn.functional.normalize`'s default: rows are divided by `max(‖row‖₂, 1e-12)`.
    static let normalizeEps: Float = 1e-12

    /// A softmax temperature must be a positive finite number.
    static func temperature(_ t: Float, op: String) throws {
        guard t > 0, t.isFinite else {
            throw SSLError.invalidArgument(op: op, detail: "temperature must be a positive finite number, got \(t)")
        }
    }

    /// A momentum (EMA keep rate) must lie in [0, 1].
    static func momentum(_ m: Float, op: String) throws {
        guard m >= 0, m <= 1 else {
            throw SSLError.invalidArgument(op: op, detail: "momentum must lie in [0, 1], got \(m)")
        }
    }

    /// Two inputs of one objective that must have the same number of features D.
    static func sameFeatures(_ a: [Int], _ b: [Int], op: String, names: (String, String)) throws {
        guard a[1] == b[1] else {
            throw SSLError.shapeMismatch(
                op: op, detail: "\(names.0) is \(shapeText(a)) but \(names.1) is \(shapeText(b)): their feature dimensions differ")
        }
    }
}

/// ⟨a[i·D ..< (i+1)·D], b[j·D ..< (j+1)·D]⟩: the dot product of row i of `a` with row j of `b`.
@inline(__always)
func rowDot(_ a: [Double], _ i: Int, _ b: [Double], _ j: Int, _ d: Int) -> Double {
    var s = 0.0
    for c in 0..<d { s += a[i * d + c] * b[j * d + c] }
    return s
}
