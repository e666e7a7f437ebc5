// LinearProbe: the objective's gradient by finite differences, L-BFGS on a known minimum,
// separable and noisy synthetic data, scikit-learn's LogisticRegression (fixtures), determinism, errors.
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

@Suite struct EvalLinearProbeTests {
    /// `perClass` points per class around centres `spread` apart on random axes, noise uniform in [−1, 1).
    static func gaussianish(classes: Int, perClass: Int, d: Int, spread: Float, seed: UInt64) throws -> (FeatureMatrix, [Int]) {
        var rng = SeededRandom(seed: seed)
        let centres = (0..<classes).map { _ in rng.uniform(d, scale: spread) }
        let labels = (0..<(classes * perClass)).map { $0 % classes }
        let values = labels.flatMap { c in zip(centres[c], rng.uniform(d)).map { $0 + $1 } }
        return (try FeatureMatrix(values: values, rows: labels.count, columns: d), labels)
    }

    /// Rows 0..<n as the train set, the rest as the test set (labels cycle, so both stay balanced).
    static func split(_ f: FeatureMatrix, _ labels: [Int], at n: Int) throws -> (FeatureMatrix, [Int], FeatureMatrix, [Int]) {
        let d = f.columns
        return (try FeatureMatrix(values: Array(f.values[..<(n * d)]), rows: n, columns: d), Array(labels[..<n]),
                try FeatureMatrix(values: Array(f.values[(n * d)...]), rows: f.rows - n, columns: d), Array(labels[n...]))
    }

    @Test("the objective's gradient matches central differences (reference backend)")
    func gradientByFiniteDifferences() throws {
        let backend = TestBackends.reference
        let (n, d, k) = (6, 3, 3)
        var rng = SeededRandom(seed: 31)
        let x = try backend.upload(rng.uniform(n * d).enumerated().flatMap { $0 % d == d - 1 ? [$1, 1] : [$1] }, shape: [n, d + 1])
        var oneHot = [Float](repeating: 0, count: n * k)
        for i in 0..<n { oneHot[i * k + (i * 5) % k] = 1 }
        let objective = EvalProbeObjective(backend: backend, x: x, targets: try backend.upload(oneHot, shape: [n, k]), lambda: 0.3)
        let w = rng.uniform((d + 1) * k).map(Double.init)
        let (_, g) = try objective.evaluate(w)
        // h = 1e-2: truncation ~h²·f''' ≈ 1e-5; the loss is stored as float32 (6e-8 relative), / 2h → 3e-6.
        for i in 0..<w.count {
            var plus = w, minus = w
            plus[i] += 1e-2
            minus[i] -= 1e-2
            let numeric = (try objective.evaluate(plus).f - (try objective.evaluate(minus).f)) / 2e-2
            #expect(abs(numeric - g[i]) < 1e-4, "∂f/∂w[\(i)]: \(g[i]) vs \(numeric)")
        }
    }

    @Test("L-BFGS finds the minimum of Rosenbrock's function and of a quadratic")
    func lbfgs() throws {
        let solver = EvalLBFGS(maxIterations: 500, gradientTolerance: 1e-10, functionTolerance: 0)
        let rosenbrock = try solver.minimize([-1.2, 1]) { v in
            let (a, b) = (v[0], v[1])
            return ((1 - a) * (1 - a) + 100 * (b - a * a) * (b - a * a), [-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])
        }
        #expect(abs(rosenbrock.x[0] - 1) < 1e-6 && abs(rosenbrock.x[1] - 1) < 1e-6, "\(rosenbrock)")
        let scales = [1.0, 10, 100, 0.1]
        let quadratic = try solver.minimize([1, 1, 1, 1]) { v in
            (zip(v, scales).reduce(0) { $0 + 0.5 * $1.1 * ($1.0 - 3) * ($1.0 - 3) }, zip(v, scales).map { $1 * ($0 - 3) })
        }
        #expect(quadratic.x.allSatisfy { abs($0 - 3) < 1e-8 } && quadratic.stop == .gradient, "\(quadratic)")
    }

    @Test("linearly separable data: every train and test sample right, on every backend")
    func separable() throws {
        let (all, labels) = try Self.gaussianish(classes: 3, perClass: 40, d: 4, spread: 8, seed: 1)
        let (train, trainLabels, test, testLabels) = try Self.split(all, labels, at: 90)
        try forEachBackend { backend in
            let model = try LinearProbe().fit(train, labels: trainLabels, on: backend)
            let trainAccuracy = try EvalMetrics.accuracy(predictions: try model.predict(train, on: backend), labels: trainLabels)
            let testAccuracy = try EvalMetrics.accuracy(predictions: try model.predict(test, on: backend), labels: testLabels)
            #expect(trainAccuracy == 1 && testAccuracy == 1, "\(trainAccuracy), \(testAccuracy) on \(backend.name)")
        }
    }

    @Test("noisy data: far above chance (25%), and the same fit twice")
    func noisy() throws {
        // Centres ~0.45 apart per axis against noise of std 0.58: the classes overlap.
        let (all, labels) = try Self.gaussianish(classes: 4, perClass: 90, d: 6, spread: 0.45, seed: 7)
        let (train, trainLabels, test, testLabels) = try Self.split(all, labels, at: 240)
        try forEachBackend { backend in
            let probe = LinearProbe()
            let model = try probe.fit(train, labels: trainLabels, on: backend)
            let accuracy = try EvalMetrics.accuracy(predictions: try model.predict(test, on: backend), labels: testLabels)
            #expect(accuracy > 0.45, "test accuracy \(accuracy) on \(backend.name)")
            let again = try probe.fit(train, labels: trainLabels, on: backend)
            #expect(again.weights == model.weights && again.iterations == model.iterations, "\(backend.name)")
        }
    }

    @Test("equals scikit-learn's StandardScaler + LogisticRegression(C=1.0) (fixtures)")
    func matchesScikitLearn() throws {
        let train = try EvalFixtures.features("linear_train_features"), test = try EvalFixtures.features("linear_test_features")
        let labels = try EvalFixtures.integers("linear_train_labels")
        let coef = try EvalFixtures.doubles("linear_coef")  // (K, D)
        let probabilities = try EvalFixtures.doubles("linear_test_probabilities")
        let (d, k) = (train.columns, 3)
        try forEachBackend { backend in
            let model = try LinearProbe(maxIterations: 1000, tolerance: 1e-7, functionTolerance: 0).fit(train, labels: labels, on: backend)
            let trainPredictions = try model.predict(train, on: backend), testPredictions = try model.predict(test, on: backend)
            #expect(trainPredictions == (try EvalFixtures.integers("linear_train_predictions")), "\(backend.name)")
            #expect(testPredictions == (try EvalFixtures.integers("linear_test_predictions")), "\(backend.name)")
            // W is unique (the ridge fixes the softmax's shift). Run until no step lowers the float32
            // loss (functionTolerance 0); where that leaves W is set by the float32 gradient's noise
            // over a curvature ≥ λ = 1/90: measured 3e-5 (reference) and 1.1e-4 (PoCL) in W,
            // 1e-5 and 5e-5 in the probabilities.
            let w = (0..<(d * k)).map { Double(model.weights[($0 % d) * k + $0 / d]) }  // as (K, D)
            assertClose(w.map(Float.init), coef, shape: [k, d], expectedShape: [k, d], rtol: 1e-3, atol: 1e-3, "W on \(backend.name)")
            let z = try model.logits(test, on: backend, chunk: 7)
            let p = (0..<test.rows).flatMap { r -> [Float] in
                let row = z[(r * k)..<((r + 1) * k)].map(Double.init), top = row.max()!
                let e = row.map { exp($0 - top) }, total = e.reduce(0, +)
                return e.map { Float($0 / total) }
            }
            assertClose(p, probabilities, shape: [test.rows, k], expectedShape: [test.rows, k], rtol: 1e-3, atol: 3e-4,
                        "probabilities on \(backend.name)")
        }
    }

    @Test("one class, a label count other than N, a bad C or iteration count, or other features are errors")
    func errors() throws {
        let f = try evalRandomFeatures(4, 2, seed: 1)
        func message(_ labels: [Int], _ probe: LinearProbe = LinearProbe()) -> String {
            do { _ = try probe.fit(f, labels: labels, on: TestBackends.reference); return "no error" } catch { return "\(error)" }
        }
        #expect(message([1, 1, 1, 1]) == "linearProbe: the train labels hold 1 class; at least 2 are needed")
        #expect(message([0, 1]) == "linearProbe: shape mismatch: 2 labels for 4 train samples")
        #expect(message([0, 1, 1, 0], LinearProbe(c: 0)).contains("C and tol must be positive"))
        #expect(message([0, 1, 1, 0], LinearProbe(maxIterations: 0)).contains("maxIterations must be at least 1"))
        let model = try LinearProbe().fit(f, labels: [0, 1, 1, 0], on: TestBackends.reference)
        #expect(throws: SSLError.self) { try model.predict(try evalRandomFeatures(2, 3, seed: 2), on: TestBackends.reference) }
    }
}
