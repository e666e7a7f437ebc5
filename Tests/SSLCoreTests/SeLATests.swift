// SeLA: pseudo-labels against the official optimize_L_sk (Tests/Fixtures/losses/clustering.py),
// the log-domain identity with the Sinkhorn op, OpenCL parity, the iteration cap, the loss, errors.
import Foundation
import Testing
@testable import SSLCore

@Suite struct SeLATests {
    /// The official loop runs in float64; the float32 device plan exp(λ·log_softmax + α + β) has
    /// exponents of magnitude ≤ ~40, so its relative error is ~40·2⁻²⁴ ≈ 2.4e-6: 1e-4 holds with margin.
    @Test("matches the official cpu_sk / optimize_L_sk: plan, labels, steps and err", arguments: ["small", "wide"])
    func matchesOfficial(_ name: String) throws {
        let labels = try ClusteringFixtures.integers("sela_\(name)_labels")
        let steps = try ClusteringFixtures.integers("sela_\(name)_steps")[0]
        try forEachBackend { backend in
            let logits = try ClusteringFixtures.input("sela_\(name)_logits", on: backend)
            let r = try backend.selaPseudoLabels(logits: logits)
            #expect(r.labels == labels, "\(backend.name)")
            #expect(r.iterations == steps, "\(backend.name): \(r.iterations) steps vs the official \(steps)")
            try ClusteringFixtures.expect(r.plan, on: backend, "sela_\(name)_plan")
            try ClusteringFixtures.expect([Float(r.error)], shape: [], "sela_\(name)_error", tolerance: 1e-3, backend.name)
            // The loss on those labels is main.py's nn.CrossEntropyLoss.
            let loss = try backend.selaLoss(logits: logits, labels: r.labels)
            try ClusteringFixtures.expect(loss.loss, on: backend, "sela_\(name)_loss")
            try ClusteringFixtures.expect(loss.dLogits, on: backend, "sela_\(name)_grad_logits")
        }
    }

    @Test("the plan is the Sinkhorn op's transport plan on log_softmax with ε = 1/λ")
    func sameAsSinkhornOp() throws {
        var rng = SeededRandom(seed: 21)
        let (n, k) = (9, 4)
        let logits = rng.uniform(n * k, scale: 0.5)
        try forEachBackend { backend in
            let x = try backend.upload(logits, shape: [n, k])
            let r = try backend.selaPseudoLabels(logits: x, lambda: 25, maxIterations: 7)
            // SwAV's codes are N × the plan (each sample's mass 1 instead of 1/N).
            let codes = try backend.download(try backend.sinkhorn(try backend.logSoftmax(x), epsilon: 1 / 25, iterations: 7))
            #expect(r.iterations == 7)
            assertClose(try backend.download(r.plan).map { $0 * Float(n) }, codes.map(Double.init), shape: [n, k],
                        expectedShape: [n, k], rtol: 1e-4, atol: 1e-6, "plan vs sinkhorn on \(backend.name)")
        }
    }

    @Test("maxIterations caps the steps; each sample's mass is 1/N")
    func capAndMarginals() throws {
        var rng = SeededRandom(seed: 4)
        let (n, k) = (30, 6)
        let logits = rng.uniform(n * k, scale: 2)
        try forEachBackend { backend in
            let r = try backend.selaPseudoLabels(logits: try backend.upload(logits, shape: [n, k]), lambda: 25, maxIterations: 3)
            #expect(r.iterations == 3 && r.error > SeLAReference.tolerance, "\(backend.name): \(r.iterations), \(r.error)")
            let plan = try backend.download(r.plan)
            for i in 0..<n {
                let mass = plan[(i * k)..<((i + 1) * k)].reduce(0, +)
                #expect(abs(mass * Float(n) - 1) < 1e-4, "\(backend.name) row \(i): \(mass)")
            }
            #expect(r.labels.allSatisfy { (0..<k).contains($0) })
        }
    }

    static let shapes: [(Int, Int)] = [(2, 3), (7, 13), (33, 65)]

    /// Same labels and step count; the plan within 1e-4 (see matchesOfficial's bound).
    @Test("OpenCL matches the reference", .enabled(if: TestBackends.hasOpenCL), arguments: shapes)
    func parity(_ s: (Int, Int)) throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        var rng = SeededRandom(seed: UInt64(s.0 * 100 + s.1))
        let logits = rng.uniform(s.0 * s.1, scale: 0.3)
        let r = try ref.selaPseudoLabels(logits: try ref.upload(logits, shape: [s.0, s.1]))
        let c = try cl.selaPseudoLabels(logits: try cl.upload(logits, shape: [s.0, s.1]))
        #expect(c.labels == r.labels && c.iterations == r.iterations, "\(s): \(c.iterations) vs \(r.iterations)")
        let scale = try ref.download(r.plan).map { Double($0) }.max() ?? 0
        try assertClose(c.plan, on: cl, r.plan, on: ref, rtol: 1e-4, atol: 1e-4 * scale, "plan \(s)")
        // err sums N terms |exp(Δβ) − 1|, each with a float32 error of ~|β|·2⁻²⁴ ≈ 1e-6.
        #expect(abs(c.error - r.error) <= 1e-3 * r.error + 1e-6 * Double(s.0), "\(s): err \(c.error) vs \(r.error)")
    }

    @Test("bad λ, iteration cap, logits or labels are the same error on every backend")
    func errors() throws {
        expectSameError("λ = 0") { b in _ = try b.selaPseudoLabels(logits: try b.zeros([3, 2]), lambda: 0, maxIterations: 5) }
        expectSameError("λ = NaN") { b in _ = try b.selaPseudoLabels(logits: try b.zeros([3, 2]), lambda: .nan, maxIterations: 5) }
        expectSameError("no iterations") { b in _ = try b.selaPseudoLabels(logits: try b.zeros([3, 2]), lambda: 25, maxIterations: 0) }
        expectSameError("logits not a matrix") { b in _ = try b.selaPseudoLabels(logits: try b.zeros([6]), lambda: 25, maxIterations: 5) }
        expectSameError("label ≥ K") { b in _ = try b.selaLoss(logits: try b.zeros([2, 3]), labels: [0, 3]) }
    }
}
