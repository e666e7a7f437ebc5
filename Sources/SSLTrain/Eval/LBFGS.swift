// Limited-memory BFGS in Double on the host, for the linear probe's convex objective whose
// loss and gradient come from the device.
import Foundation

/// L-BFGS (Nocedal & Wright, Numerical Optimization, 2nd ed., Algorithm 7.4 two-loop recursion,
/// Algorithm 7.5 outer loop) with a backtracking Armijo line search.
///
/// Stops as scipy's L-BFGS-B does under scikit-learn's `LogisticRegression(solver="lbfgs")`:
/// when max|gᵢ| ≤ `gradientTolerance` (scipy's `gtol`, sklearn's `tol`), when the relative
/// decrease (f_k − f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) falls to `functionTolerance`, after
/// `maxIterations`, or when no step decreases f any more (the float32 losses of the device have
/// reached their precision). Curvature pairs with sᵀy ≤ 1e-10 · yᵀy are skipped, which keeps the
/// implicit Hessian approximation positive definite without a Wolfe condition.
struct EvalLBFGS {
    var maxIterations: Int
    var gradientTolerance: Double
    var functionTolerance: Double
    /// Curvature pairs kept (scipy's `maxcor` is 10).
    var memory = 10

    /// Why the minimisation ended.
    enum Stop: String { case gradient, function, iterations, lineSearch }

    struct Result {
        var x: [Double]
        var f: Double
        var iterations: Int
        var stop: Stop
    }

    func minimize(_ x0: [Double], _ evaluate: ([Double]) throws -> (f: Double, g: [Double])) throws -> Result {
        var x = x0
        var (f, g) = try evaluate(x)
        var s: [[Double]] = [], y: [[Double]] = [], rho: [Double] = []
        for iteration in 0..<maxIterations {
            if g.map(abs).max() ?? 0 <= gradientTolerance { return Result(x: x, f: f, iterations: iteration, stop: .gradient) }
            // Two-loop recursion: d = −H g, with H₀ = (sᵀy / yᵀy) I from the newest pair.
            var q = g
            var alpha = [Double](repeating: 0, count: s.count)
            for i in stride(from: s.count - 1, through: 0, by: -1) {
                alpha[i] = rho[i] * dot(s[i], q)
                q = zip(q, y[i]).map { $0 - alpha[i] * $1 }
            }
            let gamma = s.isEmpty ? 1 / max(sqrt(dot(g, g)), 1e-12) : dot(s.last!, y.last!) / dot(y.last!, y.last!)
            q = q.map { $0 * gamma }
            for i in 0..<s.count {
                let beta = rho[i] * dot(y[i], q)
                q = zip(q, s[i]).map { $0 + (alpha[i] - beta) * $1 }
            }
            var direction = q.map { -$0 }
            var slope = dot(g, direction)
            if slope >= 0 {  // not a descent direction (rounding): restart from steepest descent
                s.removeAll(); y.removeAll(); rho.removeAll()
                direction = g.map { -$0 / max(sqrt(dot(g, g)), 1e-12) }
                slope = dot(g, direction)
            }
            // Backtracking Armijo: f(x + t d) ≤ f + c₁ t gᵀd, c₁ = 1e-4, t = 1, ½, ¼, …
            var step = 1.0, accepted: (x: [Double], f: Double, g: [Double])? = nil
            for _ in 0..<40 {
                let candidate = zip(x, direction).map { $0 + step * $1 }
                let (fc, gc) = try evaluate(candidate)
                if fc.isFinite, fc <= f + 1e-4 * step * slope { accepted = (candidate, fc, gc); break }
                step *= 0.5
            }
            guard let next = accepted else { return Result(x: x, f: f, iterations: iteration, stop: .lineSearch) }
            let sk = zip(next.x, x).map { $0 - $1 }, yk = zip(next.g, g).map { $0 - $1 }
            let sy = dot(sk, yk)
            if sy > 1e-10 * dot(yk, yk) {
                s.append(sk); y.append(yk); rho.append(1 / sy)
                if s.count > memory { s.removeFirst(); y.removeFirst(); rho.removeFirst() }
            }
            let decrease = (f - next.f) / max(abs(f), abs(next.f), 1)
            (x, f, g) = next
            if decrease <= functionTolerance { return Result(x: x, f: f, iterations: iteration + 1, stop: .function) }
        }
        return Result(x: x, f: f, iterations: maxIterations, stop: .iterations)
    }

    private func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
}
