// The linear probe: multinomial logistic regression on standardised frozen features, with the
// loss and gradient on the device and L-BFGS in Double on the host.
import Foundation
import SSLCore

/// A linear classifier trained on frozen features: scikit-learn's default
/// `make_pipeline(StandardScaler(), LogisticRegression())` (lbfgs, multinomial, C = 1.0,
/// `max_iter` 100, `tol` 1e-4), with the loss and its gradient computed on the device.
///
/// Objective (scikit-learn ≥ 1.2's scaling): mean cross-entropy of softmax(x̃ W + b) plus
/// ‖W‖² / (2 C N), biases not regularised; x̃ = (x − mean) / std with the train set's mean and
/// population std (a zero std counts as 1, as `StandardScaler`). Each evaluation is one GEMM for
/// the logits, `Backend.softCrossEntropy(_:targets:scale:)` for the mean loss and dLogits, and
/// one GEMM x̃ᵀ dLogits for the gradient; the ridge term and `EvalLBFGS` (Nocedal & Wright
/// Alg. 7.4/7.5) run in Double on the host. The start is W = 0, b = 0 and every step is full-batch,
/// so a fit is deterministic: there is no seed because nothing is random.
///
/// ```swift
/// let model = try LinearProbe().fit(train, labels: trainLabels, on: backend)
/// let predicted = try model.predict(test, on: backend)
/// ```
public struct LinearProbe: Sendable {
    /// The inverse regularisation strength C (scikit-learn's default 1.0).
    public var c: Double
    /// scikit-learn's `max_iter`, 100.
    public var maxIterations: Int
    /// scikit-learn's `tol`, 1e-4: stop when every gradient component is at most this.
    public var tolerance: Double
    /// Stop when the relative decrease of the objective is at most this. scikit-learn passes
    /// 64·2⁻⁵² to scipy; the device's float32 losses are noise below ~1e-7, so the default is 1e-9.
    public var functionTolerance: Double

    /// scikit-learn's `LogisticRegression()` defaults unless given.
    public init(c: Double = 1, maxIterations: Int = 100, tolerance: Double = 1e-4, functionTolerance: Double = 1e-9) {
        self.c = c
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        self.functionTolerance = functionTolerance
    }

    /// Fits the probe on `(N, D)` features and N integer labels (any values, ≥ 2 distinct).
    /// - Throws: `SSLError` for a label count that differs from N, fewer than 2 classes, or
    ///   C, the iteration count or a tolerance that is not positive.
    public func fit(_ train: FeatureMatrix, labels: [Int], on backend: any Backend) throws -> LinearProbeModel {
        let op = "linearProbe"
        guard labels.count == train.rows else {
            throw SSLError.shapeMismatch(op: op, detail: "\(labels.count) labels for \(train.rows) train samples")
        }
        guard c > 0, c.isFinite, tolerance > 0, functionTolerance >= 0 else {
            throw SSLError.invalidArgument(op: op, detail: "C and tol must be positive, got C = \(c), tol = \(tolerance)")
        }
        try evalRequirePositive(maxIterations, "maxIterations", op: op)
        let (codes, classes) = EvalReference.encode(labels)
        guard classes.count >= 2 else {
            throw SSLError.invalidArgument(op: op, detail: "the train labels hold \(classes.count) class; at least 2 are needed")
        }
        let n = train.rows, d = train.columns, k = classes.count
        var mean = [Double](repeating: 0, count: d), scale = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += Double(train.values[i * d + j]) } }
        mean = mean.map { $0 / Double(n) }
        for i in 0..<n { for j in 0..<d { scale[j] += pow(Double(train.values[i * d + j]) - mean[j], 2) } }
        scale = scale.map { $0 == 0 ? 1 : sqrt($0 / Double(n)) }
        let x = try backend.upload(LinearProbeModel.design(train, rows: 0..<n, mean: mean, scale: scale),
                                   shape: [n, d + 1])  // (N, D+1)
        var oneHot = [Float](repeating: 0, count: n * k)
        for (i, code) in codes.enumerated() { oneHot[i * k + code] = 1 }
        let targets = try backend.upload(oneHot, shape: [n, k])
        let objective = EvalProbeObjective(backend: backend, x: x, targets: targets, lambda: 1 / (c * Double(n)))
        let solver = EvalLBFGS(maxIterations: maxIterations, gradientTolerance: tolerance, functionTolerance: functionTolerance)
        let result = try solver.minimize([Double](repeating: 0, count: (d + 1) * k), objective.evaluate)
        return LinearProbeModel(mean: mean, scale: scale, weights: result.x.map { Float($0) }, classes: classes,
                                iterations: result.iterations, objective: result.f)
    }
}

/// The probe's objective mean CE(x̃W) + (λ/2)‖W‖², λ = 1/(C N), at w = (D+1, K) row-major (the
/// last row the biases, not regularised), and its gradient x̃ᵀ dLogits + λW.
struct EvalProbeObjective {
    let backend: any Backend
    /// x̃ with a trailing 1, `(N, D+1)`; one-hot targets `(N, K)`.
    let x: Tensor, targets: Tensor
    let lambda: Double

    func evaluate(_ w: [Double]) throws -> (f: Double, g: [Double]) {
        let d = x.shape[1] - 1, k = targets.shape[1]
        let weights = try backend.upload(w.map { Float($0) }, shape: [d + 1, k])
        let ce = try backend.softCrossEntropy(try backend.matmul(x, weights), targets: targets, scale: 1)
        var f = Double(try backend.download(ce.loss)[0])
        var g = try backend.download(try backend.matmul(x, ce.dLogits, transposeA: true)).map(Double.init)
        for i in 0..<(d * k) {  // the ridge on W only
            f += 0.5 * lambda * w[i] * w[i]
            g[i] += lambda * w[i]
        }
        return (f, g)
    }
}

/// A fitted ``LinearProbe``: the standardisation, the weights and the classes.
public struct LinearProbeModel: Sendable {
    /// The train set's feature means and population standard deviations (zeros replaced by 1).
    public let mean: [Double], scale: [Double]
    /// `(D+1, K)` row-major: rows 0..<D are W, row D the biases b.
    public let weights: [Float]
    /// The sorted distinct train labels, one per logit column.
    public let classes: [Int]
    /// L-BFGS iterations run.
    public let iterations: Int
    /// The final objective: mean cross-entropy + ‖W‖² / (2 C N).
    public let objective: Double

    /// Rows of standardised features with a trailing 1 for the bias: `(rows, D+1)`.
    static func design(_ f: FeatureMatrix, rows: Range<Int>, mean: [Double], scale: [Double]) -> [Float] {
        let d = f.columns
        var out = [Float](repeating: 1, count: rows.count * (d + 1))
        for (r, i) in rows.enumerated() {
            for j in 0..<d { out[r * (d + 1) + j] = Float((Double(f.values[i * d + j]) - mean[j]) / scale[j]) }
        }
        return out
    }

    /// Logits `(N, K)` row-major for `features`, computed in chunks of `chunk` rows on the device.
    public func logits(_ features: FeatureMatrix, on backend: any Backend, chunk: Int = 4096) throws -> [Float] {
        guard features.columns == mean.count else {
            throw SSLError.shapeMismatch(op: "linearProbe", detail: "the probe was fitted on \(mean.count) features, "
                                         + "these have \(features.columns)")
        }
        try evalRequirePositive(chunk, "chunk", op: "linearProbe")
        let d = features.columns
        let w = try backend.upload(weights, shape: [d + 1, classes.count])
        var out: [Float] = []
        out.reserveCapacity(features.rows * classes.count)
        for range in features.chunks(of: chunk) {
            let x = try backend.upload(Self.design(features, rows: range, mean: mean, scale: scale), shape: [range.count, d + 1])
            out += try backend.download(try backend.matmul(x, w))
        }
        return out
    }

    /// The arg-max label of each row (ties to the lowest label).
    public func predict(_ features: FeatureMatrix, on backend: any Backend) throws -> [Int] {
        let z = try logits(features, on: backend), k = classes.count
        return (0..<features.rows).map { r in classes[EvalReference.argmax(z[(r * k)..<((r + 1) * k)].map(Double.init))] }
    }
}
