// SwAV and DINO training loops: multi-crop views, SwAV's normalised and early-frozen prototypes,
// DINO's EMA teacher, centre, frozen last layer, gradient clipping and teacher-temperature warm-up.
// The short run and the exact resume of both are TrainerTests'.
import Foundation
import Testing
@testable import SSLTrain

@Suite struct TrainMultiCropTests {
    let backend = TestBackends.reference

    func trainer(_ config: TrainConfig) throws -> Trainer {
        try Trainer(config: config, data: try TrainingFixtures.data(), backend: backend,
                    outputFolder: TrainingFixtures.folder(), progress: ProgressReporter(logEvery: 1000, forceTerminal: false))
    }

    func context(_ trainer: Trainer, _ globalStep: Int) -> StepContext {
        let perEpoch = trainer.stepsPerEpoch, step = globalStep % perEpoch
        return StepContext(backend: backend, epoch: globalStep / perEpoch, step: step, globalStep: globalStep,
                           stepsPerEpoch: perEpoch, totalSteps: trainer.totalSteps,
                           indices: Array((step * trainer.config.batchSize)..<((step + 1) * trainer.config.batchSize)))
    }

    /// One optimizer step of `trainer` as its loop runs it, at `globalStep`.
    func step(_ trainer: Trainer, _ globalStep: Int, lr: Double? = nil) throws {
        let c = context(trainer, globalStep)
        _ = try trainer.trainStep(indices: c.indices, context: c, lr: try lr ?? trainer.schedule.learningRate(at: globalStep))
    }

    func values(_ t: Tensor) throws -> [Float] { try backend.download(t) }

    func maxDifference(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }

    func rowNorms(_ p: Parameter) throws -> [Float] {
        let v = try values(p.value), d = p.shape[1]
        return (0..<p.shape[0]).map { r in v[(r * d)..<((r + 1) * d)].reduce(0) { $0 + $1 * $1 }.squareRoot() }
    }

    func setup(_ config: TrainConfig) -> ObjectiveSetup {
        ObjectiveSetup(config: config, backend: backend, channels: 1, imageSize: 12, datasetSize: 64,
                       normalization: .identity(channels: 1))
    }

    @Test("multi-crop: 2 global views and the local ones, local at 96/224 of the size, the global size with the MLP")
    func views() throws {
        var c = TrainingFixtures.config(.swav)
        let mlp = try SwAVObjective(setup(c)).augmentation
        #expect(mlp.views.map(\.size) == [12, 12, 12, 12] && mlp.views[2].scale == 0.05...0.14)
        c.encoder = "resnet"
        c.encoderWidths = [4, 8]
        c.localCrops = 3
        let resnet = try DINOObjective(setup(c)).augmentation
        #expect(resnet.views.map(\.size) == [12, 12, 5, 5, 5])
        c.localCrops = -1
        #expect(throws: SSLError.self) { _ = try SwAVObjective(setup(c)) }
    }

    @Test("with the ResNet, local crops of their own smaller size go through the same networks",
          arguments: [Method.swav, .dino])
    func resnetLocalCrops(_ method: Method) throws {
        var c = TrainingFixtures.config(method, steps: 1)
        c.encoder = "resnet"
        c.encoderWidths = [4, 8]
        let trainer = try trainer(c)
        #expect(trainer.objective.augmentation.cropSizes == [12, 5])
        try trainer.run()
        #expect(trainer.history.losses.count == 1 && trainer.history.losses.allSatisfy(\.isFinite))
    }

    @Test("SwAV: prototypes are unit rows before every step and frozen during the first min(313, epoch, run / 10) steps")
    func swavPrototypes() throws {
        var c = TrainingFixtures.config(.swav, steps: 8)
        let short = try trainer(c)  // 2 epochs of 4 steps: a tenth of the run is no step
        #expect(try #require(short.objective as? SwAVObjective).frozen(context(short, 0)).isEmpty)
        c.epochs = 10  // 40 steps: the window is the first epoch, 4 steps
        c.optimizer = .sgd
        c.baseLR = 25.6  // lr 1.6: an update of the prototypes is plain to see
        let trainer = try trainer(c)
        let swav = try #require(trainer.objective as? SwAVObjective)
        let p = swav.prototypes.weight, window = 4  // 4 steps per epoch
        #expect(p.shape == [8, 32] && p.name == "prototypes.weight")
        try step(trainer, 0)
        #expect(try rowNorms(p).allSatisfy { abs($0 - 1) < 1e-5 })
        for g in 1..<window {
            let normalized = try values(try backend.l2Normalize(p.value, eps: 1e-12))
            try step(trainer, g)
            #expect(try values(p.value) == normalized, "step \(g): normalised, then not updated")
        }
        #expect(swav.frozen(context(trainer, window - 1)) == ["prototypes.weight"])
        #expect(swav.frozen(context(trainer, window)).isEmpty)
        let normalized = try values(try backend.l2Normalize(p.value, eps: 1e-12))
        try step(trainer, window)
        #expect(maxDifference(try values(p.value), normalized) > 1e-3, "updated after the window")
        #expect(try rowNorms(p).contains { abs($0 - 1) > 1e-5 })
        try step(trainer, window + 1, lr: 0)  // no update: what remains is the step's own normalisation
        #expect(try rowNorms(p).allSatisfy { abs($0 - 1) < 1e-5 })
    }

    /// Official main_swav.py: from `epoch_queue_starts` each step fills the queue after reading
    /// it, and Sinkhorn uses it once its last row holds an embedding. With batches of 16 and a
    /// queue of 32 from epoch 1 (step 4): filled at steps 4 and 5, used from step 6. A twin run
    /// without a queue has the same losses until then, and another one at step 6.
    @Test("SwAV's queue: filled from its start epoch, used once full, checkpointed; shorter than a batch is an error")
    func swavQueue() throws {
        var c = TrainingFixtures.config(.swav, steps: 8)
        c.epochs = 3
        let plain = try trainer(c)
        (c.swavQueueLength, c.swavQueueStartEpoch) = (32, 1)
        let queued = try trainer(c)
        let swav = try #require(queued.objective as? SwAVObjective)
        #expect(swav.queues.map(\.shape) == [[32, 32], [32, 32]] && swav.state.map(\.name) == ["swav.queue0", "swav.queue1"])
        var losses: [(Double, Double)] = []
        for g in 0..<7 {
            let (a, b) = (context(plain, g), context(queued, g))
            let lr = try plain.schedule.learningRate(at: g)
            losses.append((try plain.trainStep(indices: a.indices, context: a, lr: lr),
                           try queued.trainStep(indices: b.indices, context: b, lr: lr)))
            let filled = try values(swav.queues[0]).enumerated().filter { $0.element != 0 }.map { $0.offset / 32 }
            #expect(Set(filled).count == (g < 4 ? 0 : g == 4 ? 16 : 32), "step \(g): rows filled")
        }
        #expect(losses.prefix(6).allSatisfy { $0.0 == $0.1 }, "\(losses)")
        #expect(abs(losses[6].0 - losses[6].1) > 1e-4, "step 6 reads the queue: \(losses[6])")
        // Every row of a full queue is an L2-normalised embedding.
        let q = try values(swav.queues[1])
        #expect((0..<32).allSatisfy { r in abs((0..<32).reduce(Float(0)) { $0 + q[r * 32 + $1] * q[r * 32 + $1] } - 1) < 1e-4 })
        c.swavQueueLength = 8
        let short = #expect(throws: SSLError.self) { _ = try trainer(c) }
        #expect(short?.description.contains("swavQueueLength 8 must hold at least one global batch of 16") == true, "\(String(describing: short))")
    }

    @Test("DINO: the teacher follows the student by EMA, the centre moves, the last layer waits for min(epoch 1, run / 10), gradients are clipped")
    func dinoTeacher() throws {
        var c = TrainingFixtures.config(.dino, steps: 8)
        let short = try trainer(c)  // 2 epochs of 4 steps: a tenth of the run is no step
        #expect(try #require(short.objective as? DINOObjective).frozen(context(short, 0)).isEmpty)
        c.epochs = 10         // 40 steps: the last layer waits for the first epoch, 4 steps
        c.emaMomentum = 0.9   // a visible EMA step
        c.baseLR = 0.5        // lr 0.03
        let trainer = try trainer(c)
        let dino = try #require(trainer.objective as? DINOObjective)
        let teacher = dino.teacher.layers.flatMap(\.parameters), student = dino.parameters
        #expect(teacher.map(\.name) == student.map(\.name) && dino.center.shape == [1, 8])
        #expect(dino.frozen(context(trainer, 3)) == ["head.last_layer.weight_v"] && dino.frozen(context(trainer, 4)).isEmpty)
        let initial = try teacher.map { try values($0.value) }
        let lastLayer = dino.head.lastLayer.direction, lastInitial = try values(lastLayer.value)
        var centers: [[Float]] = [try values(dino.center)]
        for g in 0..<4 {
            let before = try teacher.map { try values($0.value) }
            try step(trainer, g)
            let m = Float(try EMASchedule(base: 0.9).momentum(step: g, totalSteps: trainer.totalSteps))
            for (i, (t, s)) in zip(teacher, student).enumerated() {
                let expected = zip(before[i], try values(s.value)).map { m * $0 + (1 - m) * $1 }
                #expect(maxDifference(try values(t.value), expected) < 1e-6, "\(t.name) at step \(g)")
            }
            #expect(try values(lastLayer.value) == lastInitial, "the last layer is frozen in epoch 0 (step \(g))")
            for s in student {
                let norm = try values(s.gradient).reduce(0) { $0 + $1 * $1 }.squareRoot()
                #expect(norm <= 3 * (1 + 1e-5), "\(s.name) gradient norm \(norm)")
            }
            centers.append(try values(dino.center))
        }
        #expect(maxDifference(try values(teacher[0].value), initial[0]) > 1e-4, "the teacher moved")
        for g in 1..<centers.count { #expect(centers[g] != centers[g - 1], "the centre moves at step \(g - 1)") }
        try step(trainer, 4)
        #expect(maxDifference(try values(lastLayer.value), lastInitial) > 0, "the last layer trains from epoch 1")
        // The checkpointed centre is the objective's own tensor (a resume restores into it).
        let saved = try #require(dino.state.first { $0.name == "center" })
        try backend.fill(saved.tensor, with: 7)
        #expect(try values(dino.center) == [Float](repeating: 7, count: 8))
    }

    /// main_dino.py: `wd_schedule = cosine_scheduler(0.04, 0.4, epochs, niter_per_ep)`, set on
    /// the regularised parameter group before each step; the other methods keep their decay.
    @Test("DINO's weight decay rises by cosine from its base to ten times it, step by step; the others keep theirs")
    func dinoWeightDecay() throws {
        var c = TrainingFixtures.config(.dino, steps: 8)
        (c.epochs, c.weightDecay) = (2, 0.04)
        let trainer = try trainer(c)  // 8 steps
        let dino = try #require(trainer.objective as? DINOObjective)
        let expected = (0...8).map { 0.4 + (0.04 - 0.4) * (1 + cos(Double.pi * Double($0) / 8)) / 2 }
        #expect(abs(expected[0] - 0.04) < 1e-15 && abs(expected[4] - 0.22) < 1e-12 && abs(expected[8] - 0.4) < 1e-15)
        for g in [0, 4, 8] { #expect(abs(dino.weightDecay(context(trainer, g), base: 0.04) - expected[g]) < 1e-12) }
        for g in 0..<3 {
            try step(trainer, g)
            #expect(abs(trainer.optimizer.weightDecay - expected[g]) < 1e-12, "step \(g)")
        }
        var b = TrainingFixtures.config(.barlow, steps: 8)
        b.weightDecay = 0.04
        let other = try self.trainer(b)
        try step(other, 3)
        #expect(other.optimizer.weightDecay == 0.04)
    }

    @Test("DINO's teacher temperature warms up from 0.04 over min(30, epochs / 10) epochs")
    func dinoTeacherTemperature() throws {
        var c = TrainingFixtures.config(.dino)
        c.epochs = 300
        let long = try DINOObjective(setup(c))
        #expect(long.teacherWarmupEpochs == 30)
        let tau = try [0, 10, 29, 200].map { try long.teacherTemperature(epoch: $0) }
        #expect(tau[0] == 0.04 && tau[1] > 0.04 && tau[1] < 0.07 && abs(tau[2] - 0.07) < 1e-12 && tau[3] == 0.07)
        c.epochs = 100
        #expect(try DINOObjective(setup(c)).teacherWarmupEpochs == 10)
        c.epochs = 2
        c.temperature = 0.05
        #expect(try DINOObjective(setup(c)).teacherTemperature(epoch: 0) == 0.05)
    }
}
