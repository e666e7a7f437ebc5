// The training loops of MoCo v2 and the memory bank: the queue fills FIFO over steps, the key
// encoder follows the momentum rule, the batch's bank rows change and stay unit-norm, and NCE's
// normaliser is computed once and kept. The short-run and exact-resume tests are in TrainerTests.
import Foundation
import Testing
@testable import SSLTrain

@Suite struct TrainContrastiveTests {
    static func setup(_ config: TrainConfig, on backend: any Backend) -> ObjectiveSetup {
        ObjectiveSetup(config: config, backend: backend, channels: 1, imageSize: 12, datasetSize: 64,
                       normalization: .identity(channels: 1))
    }

    static func context(_ step: Int, _ indices: [Int], on backend: any Backend) -> StepContext {
        StepContext(backend: backend, epoch: 0, step: step, globalStep: step, stepsPerEpoch: 4, totalSteps: 8, indices: indices)
    }

    static func trainer(_ config: TrainConfig, on backend: any Backend) throws -> Trainer {
        try Trainer(config: config, data: try TrainingFixtures.data(), backend: backend, outputFolder: TrainingFixtures.folder(),
                    progress: ProgressReporter(logEvery: 1000, forceTerminal: false))
    }

    static func values(_ layers: [any Layer], on backend: any Backend) throws -> [[Float]] {
        try layers.flatMap(\.parameters).map { try backend.download($0.value) }
    }

    static func rowNorms(_ values: [Float], columns: Int) -> [Double] {
        stride(from: 0, to: values.count, by: columns).map { start in
            values[start..<(start + columns)].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        }
    }

    @Test("MoCo: each step's normalised keys replace the oldest rows of the queue, wrapping at its end")
    func queueIsFIFO() throws {
        try forEachBackend { backend in
            var config = TrainingFixtures.config(.moco)
            config.queueSize = 40  // 16 keys a step: rows 0–15, 16–31, then 32–39 and 0–7
            let moco = try #require(try ObjectiveFactory.make(Self.setup(config, on: backend)) as? MoCoObjective)
            let (k, d) = (40, moco.queue.shape[1])
            #expect(moco.queue.shape == [k, 32])
            #expect(Self.rowNorms(try backend.download(moco.queue), columns: d).allSatisfy { abs($0 - 1) < 1e-5 })
            var rng = SeededRandom(seed: 5)
            var written: [[Float]] = []  // the normalised keys of each step
            for step in 0..<3 {
                let views = try (0..<2).map { _ in try backend.upload(rng.uniform(16 * 144), shape: [16, 1, 12, 12]) }
                let keys = try backend.download(try backend.l2Normalize(try moco.teacher.layers.forward(views[1]).0, eps: 1e-12))
                let before = try backend.download(moco.queue)
                let context = Self.context(step, Array((step * 16)..<(step * 16 + 16)), on: backend)
                #expect(moco.pointer(before: context) == step * 16 % k)
                _ = try moco.step(views, context)
                try moco.afterStep(context)
                let after = try backend.download(moco.queue)
                let rows = (0..<16).map { (step * 16 + $0) % k }
                for (i, row) in rows.enumerated() {
                    for c in 0..<d { #expect(abs(after[row * d + c] - keys[i * d + c]) < 1e-5, "\(backend.name) step \(step) row \(row)") }
                }
                for row in Set(0..<k).subtracting(rows) {
                    #expect(after[(row * d)..<(row * d + d)] == before[(row * d)..<(row * d + d)], "\(backend.name) row \(row) untouched")
                }
                written.append(keys)
            }
            // After 48 keys into 40 rows the oldest 8 (step 0's first half) are gone, its second half stays.
            let queue = try backend.download(moco.queue)
            for i in 8..<16 {
                for c in 0..<d { #expect(abs(queue[i * d + c] - written[0][i * d + c]) < 1e-5) }
            }
        }
    }

    @Test("MoCo: after each optimizer step the key encoder is m·key + (1 − m)·query, m constant")
    func keyEncoderMomentum() throws {
        let backend = TestBackends.reference
        #expect(try #require(try ObjectiveFactory.make(Self.setup(TrainingFixtures.config(.moco), on: backend)) as? MoCoObjective)
            .momentum == 0.999)
        var config = TrainingFixtures.config(.moco)
        config.emaMomentum = 0.9
        let trainer = try Self.trainer(config, on: backend)
        let moco = try #require(trainer.objective as? MoCoObjective)
        #expect(try Self.values(moco.teacher.layers, on: backend) == Self.values(moco.trainable, on: backend))
        for step in 0..<2 {
            let keyBefore = try Self.values(moco.teacher.layers, on: backend)
            let queryBefore = try Self.values(moco.trainable, on: backend)
            _ = try trainer.trainStep(indices: Array((step * 16)..<(step * 16 + 16)),
                                      context: Self.context(step, Array((step * 16)..<(step * 16 + 16)), on: backend), lr: 0.1)
            let key = try Self.values(moco.teacher.layers, on: backend), query = try Self.values(moco.trainable, on: backend)
            #expect(query != queryBefore, "the optimizer moved the query encoder")
            #expect(key != keyBefore, "the key encoder moved")
            for (t, (t0, q)) in zip(key, zip(keyBefore, query)) {
                for i in t.indices { #expect(abs(Double(t[i]) - (0.9 * Double(t0[i]) + 0.1 * Double(q[i]))) < 1e-6) }
            }
        }
    }

    @Test("memory bank: the batch's rows change and stay unit-norm, the rest stay; Z is set once and kept")
    func bankAndNormalizer() throws {
        try forEachBackend { backend in
            let trainer = try Self.trainer(TrainingFixtures.config(.memorybank), on: backend)
            let bank = try #require(trainer.objective as? MemoryBankObjective)
            #expect(bank.augmentation.views.count == 1)
            #expect(bank.negatives == 63, "4096 negatives clamped to a 64-row bank")
            let d = bank.bank.shape[1]
            #expect(bank.bank.shape == [64, 32])
            #expect(Self.rowNorms(try backend.download(bank.bank), columns: d).allSatisfy { abs($0 - 1) < 1e-5 })
            #expect(try backend.download(bank.normalizer) == [0])
            var z: Float = 0
            for (step, indices) in [Array(stride(from: 0, to: 64, by: 4)), Array(stride(from: 1, to: 64, by: 4))].enumerated() {
                let before = try backend.download(bank.bank)
                _ = try trainer.trainStep(indices: indices, context: Self.context(step, indices, on: backend), lr: 0.05)
                let after = try backend.download(bank.bank)
                for row in 0..<64 {
                    let old = before[(row * d)..<(row * d + d)], new = after[(row * d)..<(row * d + d)]
                    if indices.contains(row) {
                        #expect(old != new, "\(backend.name) step \(step): batch row \(row) updated")
                    } else {
                        #expect(old == new, "\(backend.name) step \(step): row \(row) untouched")
                    }
                }
                #expect(Self.rowNorms(after, columns: d).allSatisfy { abs($0 - 1) < 1e-5 }, "\(backend.name)")
                let normalizer = try backend.download(bank.normalizer)[0]
                if step == 0 {
                    #expect(normalizer > 0 && normalizer.isFinite, "\(backend.name): Z set by the first step")
                    z = normalizer
                } else {
                    #expect(normalizer.bitPattern == z.bitPattern, "\(backend.name): Z kept")
                }
            }
        }
    }

    @Test("memory bank: NCE's negatives depend only on the run's seed and the global step")
    func negativeSeeds() {
        let seeds = (0..<100).map { MemoryBankObjective.negativeSeed(7, globalStep: $0) }
        #expect(Set(seeds).count == 100)
        #expect(seeds == (0..<100).map { MemoryBankObjective.negativeSeed(7, globalStep: $0) })
        #expect(MemoryBankObjective.negativeSeed(8, globalStep: 0) != seeds[0])
    }
}

/// Whether a method's step runs its views as one joint batch (batch norm over 2N rows, as
/// google-research/simclr's `tf.concat(features_list, 0)` and the `MultiCropWrapper` of SwAV and
/// DINO do) or view by view (BYOL, SimSiam, Barlow Twins and VICReg call their networks once per
/// view). Read off the first batch norm's running mean after one step from zero: one update with
/// the mean of all 2N rows, m·μ(x₁ ∪ x₂), or two, m(1 − m)·μ(x₁) + m·μ(x₂).
@Suite struct JointBatchTests {
    static let joint: Set<Method> = [.simclr, .swav, .dino]

    @Test("each method's step normalises over the joint batch or per view, as its official code does",
          arguments: [Method.simclr, .swav, .dino, .byol, .simsiam, .barlow, .vicreg])
    func batchNormSees(_ method: Method) throws {
        let backend = TestBackends.reference
        var c = TrainingFixtures.config(method)
        c.localCrops = 0
        let objective = try ObjectiveFactory.make(TrainContrastiveTests.setup(c, on: backend))
        let encoder = try #require(objective.encoder as? MLPEncoder)
        let (fc1, bn1) = (encoder.body.layers[1], try #require(encoder.body.layers[2] as? BatchNorm))
        var rng = SeededRandom(seed: 11)
        let views = try (0..<2).map { _ in try backend.upload(rng.uniform(8 * 144), shape: [8, 1, 12, 12]) }
        _ = try objective.step(views, TrainContrastiveTests.context(0, Array(0..<8), on: backend))

        func columnMeans(_ x: Tensor) throws -> [Double] {
            let h = try backend.download(try fc1.forward(try x.reshaped([x.shape[0], 144])).output), width = h.count / x.shape[0]
            return (0..<width).map { j in (0..<x.shape[0]).reduce(0.0) { $0 + Double(h[$1 * width + j]) } / Double(x.shape[0]) }
        }
        let (m1, m2, m) = (try columnMeans(views[0]), try columnMeans(views[1]), Double(bn1.momentum))
        let expected = Self.joint.contains(method)
            ? zip(m1, m2).map { m * ($0 + $1) / 2 } : zip(m1, m2).map { m * (1 - m) * $0 + m * $1 }
        let other = Self.joint.contains(method)
            ? zip(m1, m2).map { m * (1 - m) * $0 + m * $1 } : zip(m1, m2).map { m * ($0 + $1) / 2 }
        let running = try backend.download(bn1.running.mean).map(Double.init)
        // Float32 running statistics of O(1) means: 1e-6; the other rule is off by ~m²·|μ₁| ≈ 1e-3.
        #expect(zip(running, expected).allSatisfy { abs($0 - $1) < 1e-5 }, "\(method): \(running.prefix(3)) vs \(expected.prefix(3))")
        #expect(zip(running, other).contains { abs($0 - $1) > 1e-4 }, "\(method): the two rules must differ here")
    }
}
