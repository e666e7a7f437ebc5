// Principal components in Double, for the 2-D scatter of embeddings in the report.

public enum PCA {
    /// Projects the rows of `x` (N, D) onto its top `components` principal axes.
    ///
    /// The covariance (D×D, Double) is formed once; its leading eigenvectors come from power
    /// iteration with deflation, which is plenty for a plot (D is an embedding size, ≤ a few
    /// thousand). Signs are fixed so that each axis's largest-magnitude loading is positive,
    /// making the picture deterministic.
    /// - Returns: `(N, components)` row-major.
    public static func project(_ x: [Float], rows n: Int, cols d: Int, components: Int = 2,
                               iterations: Int = 200) throws -> [Double] {
        guard x.count == n * d && n > 0 && d > 0 else {
            throw SSLError.shapeMismatch(op: "PCA", detail: "\(x.count) values do not fill a non-empty \(n)×\(d) matrix")
        }
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += Double(x[i * d + j]) } }
        for j in 0..<d { mean[j] /= Double(n) }
        var centered = [Double](repeating: 0, count: n * d)
        for i in 0..<n { for j in 0..<d { centered[i * d + j] = Double(x[i * d + j]) - mean[j] } }
        var cov = [Double](repeating: 0, count: d * d)
        for i in 0..<n {
            let row = centered[(i * d)..<((i + 1) * d)]
            for (a, va) in row.enumerated() where va != 0 {
                for (b, vb) in row.enumerated() { cov[a * d + b] += va * vb }
            }
        }
        var axes: [[Double]] = []
        for c in 0..<min(components, d) {
            var v = (0..<d).map { j in Double((j * 7919 + c * 104_729) % 1000 + 1) }  // fixed start
            for _ in 0..<iterations {
                var w = [Double](repeating: 0, count: d)
                for a in 0..<d { for b in 0..<d { w[a] += cov[a * d + b] * v[b] } }
                for axis in axes {  // deflation: stay orthogonal to the axes found
                    let p = zip(w, axis).reduce(0) { $0 + $1.0 * $1.1 }
                    for j in 0..<d { w[j] -= p * axis[j] }
                }
                let norm = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
                guard norm > 0 else { break }
                v = w.map { $0 / norm }
            }
            if let top = v.indices.max(by: { abs(v[$0]) < abs(v[$1]) }), v[top] < 0 { v = v.map { -$0 } }
            axes.append(v)
        }
        var out = [Double](repeating: 0, count: n * components)
        for i in 0..<n {
            for (c, axis) in axes.enumerated() {
                out[i * components + c] = (0..<d).reduce(0) { $0 + centered[i * d + $1] * axis[$1] }
            }
        }
        return out
    }
}
