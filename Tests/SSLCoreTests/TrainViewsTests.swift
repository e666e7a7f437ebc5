// How a configuration reaches each method's views and objective: `cropScale` and the small-image
// blur rule for every method, and the memory bank's exact softmax.
import Foundation
import Testing
@testable import SSLTrain

@Suite struct TrainViewsTests {
    let backend = TestBackends.reference

    func objective(_ config: TrainConfig) throws -> any Objective {
        try ObjectiveFactory.make(ObjectiveSetup(config: config, backend: backend, channels: 1, imageSize: 12,
                                                 datasetSize: 64, normalization: .identity(channels: 1)))
    }

    @Test("cropScale reaches the global views of every method, never a local crop; no blur below 64 px",
          arguments: Method.allCases)
    func cropScale(_ method: Method) throws {
        var c = TrainingFixtures.config(method)
        c.cropScale = [0.4, 1]
        let views = try objective(c).augmentation.views
        let multiCrop = method == .swav || method == .dino, globals = multiCrop ? 2 : views.count
        #expect(views.prefix(globals).allSatisfy { $0.scale == 0.4...1 })
        #expect(views.dropFirst(globals).allSatisfy { $0.scale == 0.05...0.14 })
        if multiCrop { #expect(views.count == 2 + c.localCrops) }
        #expect(views.allSatisfy { $0.blurProbability == 0 })
    }

    @Test("negatives 0 trains the memory bank with the full softmax: no NCE normaliser; negative counts are errors")
    func memoryBankFullSoftmax() throws {
        var c = TrainingFixtures.config(.memorybank, steps: 2)
        c.negatives = 0
        let trainer = try Trainer(config: c, data: try TrainingFixtures.data(), backend: backend,
                                  outputFolder: TrainingFixtures.folder(),
                                  progress: ProgressReporter(logEvery: 1000, forceTerminal: false))
        defer { try? FileManager.default.removeItem(atPath: trainer.files.folder) }
        let bank = try #require(trainer.objective as? MemoryBankObjective)
        #expect(bank.negatives == nil)
        try trainer.run()
        #expect(trainer.history.losses.count == 2 && trainer.history.losses.allSatisfy(\.isFinite))
        // NCE sets Z at its first step; the full softmax never does.
        #expect(try backend.download(bank.normalizer) == [0])
        c.negatives = 5
        #expect(try #require(try objective(c) as? MemoryBankObjective).negatives == 5)
        c.negatives = -1
        #expect(throws: SSLError.self) { try c.validate() }
    }
}
