// Learning-rate schedules: the warm-up/cosine values at their landmarks, the whole curve against
// Barlow Twins' adjust_learning_rate (transcribed below), the constant schedule, the linear
// scaling rule, and bad arguments.
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

@Suite struct OptimizerScheduleTests {
    /// facebookresearch/barlowtwins, main.py `adjust_learning_rate`, for the weights' group
    /// before its `* args.learning_rate_weights`, transcribed line for line.
    private func barlowTwinsLR(step: Int, epochs: Int, loaderCount: Int, batchSize: Int) -> Double {
        var step = step, maxSteps = epochs * loaderCount
        let warmupSteps = 10 * loaderCount
        let baseLR = Double(batchSize) / 256
        if step < warmupSteps { return baseLR * Double(step) / Double(warmupSteps) }
        step -= warmupSteps
        maxSteps -= warmupSteps
        let q = 0.5 * (1 + cos(Double.pi * Double(step) / Double(maxSteps)))
        let endLR = baseLR * 0.001
        return baseLR * q + endLR * (1 - q)
    }

    @Test("linear warm-up then cosine: 0 at the start, base/2 mid-warm-up, base at its end, the mean mid-cosine, final at the end")
    func landmarks() throws {
        let s = try LinearWarmupCosine(baseLR: 1.6, warmupSteps: 10, totalSteps: 110, finalLR: 0.0016)
        let cases: [(Int, Double)] = [(0, 0), (5, 0.8), (9, 1.6 * 0.9), (10, 1.6), (60, (1.6 + 0.0016) / 2),
                                      (110, 0.0016), (111, 0.0016), (10_000, 0.0016)]
        for (step, expected) in cases {
            #expect(abs(try s.learningRate(at: step) - expected) < 1e-12, "step \(step)")
        }
        // Strictly decreasing after the warm-up.
        let decay = try (10...110).map { try s.learningRate(at: $0) }
        #expect(zip(decay, decay.dropFirst()).allSatisfy { $0 > $1 })
        // No warm-up: the base at step 0.
        #expect(try LinearWarmupCosine(baseLR: 0.5, warmupSteps: 0, totalSteps: 4, finalLR: 0).learningRate(at: 0) == 0.5)
    }

    @Test("the curve is Barlow Twins' adjust_learning_rate at every step (2048 batch, 13 steps per epoch, 30 epochs)")
    func barlowTwins() throws {
        let (epochs, loaderCount, batchSize) = (30, 13, 2048)
        let base = try LinearScalingRule.learningRate(base: 1, batchSize: batchSize)
        let s = try LinearWarmupCosine(baseLR: base, warmupSteps: 10 * loaderCount, totalSteps: epochs * loaderCount,
                                       finalLR: base * 0.001)
        for step in 0..<(epochs * loaderCount) {
            let expected = barlowTwinsLR(step: step, epochs: epochs, loaderCount: loaderCount, batchSize: batchSize)
            #expect(abs(try s.learningRate(at: step) - expected) <= 1e-15 * base, "step \(step)")
        }
    }

    @Test("constant schedule and the linear scaling rule lr = base · batch / 256")
    func constantAndScaling() throws {
        let c = try ConstantLR(0.3)
        #expect(try c.learningRate(at: 0) == 0.3 && c.learningRate(at: 123_456) == 0.3)
        #expect(try LinearScalingRule.learningRate(base: 0.2, batchSize: 2048) == 1.6)
        #expect(try LinearScalingRule.learningRate(base: 0.0005, batchSize: 1024) == 0.002)  // DINO's ViT-S default
        #expect(try LinearScalingRule.learningRate(base: 0.3, batchSize: 512, referenceBatchSize: 512) == 0.3)
    }

    @Test("bad schedule arguments throw errors naming them")
    func errors() throws {
        let cases: [(() throws -> Any, String)] = [
            ({ try LinearWarmupCosine(baseLR: 1, warmupSteps: 10, totalSteps: 10, finalLR: 0) },
             "totalSteps (10) must exceed warmupSteps (10)"),
            ({ try LinearWarmupCosine(baseLR: 1, warmupSteps: -1, totalSteps: 10, finalLR: 0) }, "warmupSteps must be non-negative"),
            ({ try LinearWarmupCosine(baseLR: .nan, warmupSteps: 1, totalSteps: 10, finalLR: 0) }, "learning rate"),
            ({ try LinearWarmupCosine(baseLR: 1, warmupSteps: 1, totalSteps: 10, finalLR: -1) }, "got -1.0"),
            ({ try LinearWarmupCosine(baseLR: 1, warmupSteps: 1, totalSteps: 10, finalLR: 0).learningRate(at: -1) },
             "step must be non-negative, got -1"),
            ({ try ConstantLR(-0.1) }, "got -0.1"),
            ({ try ConstantLR(0.1).learningRate(at: -2) }, "got -2"),
            ({ try LinearScalingRule.learningRate(base: 0.1, batchSize: 0) }, "batch sizes must be at least 1"),
        ]
        for (body, message) in cases {
            let error = #expect(throws: SSLError.self) { _ = try body() }
            #expect(error?.description.contains(message) == true, "\(String(describing: error)) should contain '\(message)'")
        }
    }
}
