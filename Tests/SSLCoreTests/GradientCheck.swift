// Finite-difference gradient checks in Double, for every hand-written backward pass.
import Testing

/// Compares `analytic` with central differences of `f` at `x`.
///
/// In Double with step h = 1e-5 the truncation error is O(h²·f‴) ≈ 1e-10 and the rounding error
/// O(ε·|f|/h) ≈ 1e-11 for O(1) values, so a correct gradient agrees to ~1e-8; a wrong term shows
/// up at O(1). The check is |numeric − analytic| ≤ tolerance · max(1, max|analytic|).
func checkGradient(_ what: String, at x: [Double], analytic: [Double], tolerance: Double = 1e-6,
                   step: Double = 1e-5, sourceLocation: SourceLocation = #_sourceLocation,
                   _ f: ([Double]) -> Double) {
    guard analytic.count == x.count else {
        Issue.record("\(what): gradient has \(analytic.count) entries for \(x.count) inputs", sourceLocation: sourceLocation)
        return
    }
    let scale = max(1, analytic.map(abs).max() ?? 0)
    var worst = (index: -1, numeric: 0.0, error: 0.0)
    var xp = x
    for i in 0..<x.count {
        xp[i] = x[i] + step
        let up = f(xp)
        xp[i] = x[i] - step
        let down = f(xp)
        xp[i] = x[i]
        let numeric = (up - down) / (2 * step)
        let error = abs(numeric - analytic[i])
        if !(error <= worst.error) { worst = (i, numeric, error) }  // NaN counts as worst
    }
    if !(worst.error <= tolerance * scale) {
        let analyticValue = analytic[max(worst.index, 0)]
        let message = "\(what): d/dx[\(worst.index)] analytic \(analyticValue) vs numeric \(worst.numeric), "
            + "error \(worst.error), allowed \(tolerance * scale)"
        Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
    }
}

/// ⟨w, v⟩: turns a vector-valued function into a scalar one for `checkGradient`.
func dot(_ w: [Double], _ v: [Double]) -> Double { zip(w, v).reduce(0) { $0 + $1.0 * $1.1 } }

extension SeededRandom {
    mutating func doubles(_ count: Int, scale: Double = 1) -> [Double] { uniform(count).map { Double($0) * scale } }
}
