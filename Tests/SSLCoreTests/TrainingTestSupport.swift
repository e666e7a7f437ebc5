// Tiny data and short runs for the training-loop tests.
import Foundation
import Testing
@testable import SSLTrain

enum TrainingFixtures {
    /// `count` 1×12×12 images of 4 classes (``ImageDataset/quadrants(count:side:seed:)``).
    static func images(count: Int, seed: UInt64) throws -> ImageDataset { try .quadrants(count: count, seed: seed) }

    static func data() throws -> TrainingData {
        TrainingData(train: try images(count: 64, seed: 1), evalTrain: try images(count: 32, seed: 2),
                     evalTest: try images(count: 16, seed: 3), normalization: .identity(channels: 1))
    }

    /// A configuration a run of a few steps on tiny images can use: small heads, batch 16.
    static func config(_ method: Method, steps: Int = 3) -> TrainConfig {
        var c = TrainConfig.defaults(for: method)
        c.batchSize = 16
        c.epochs = 2
        c.encoderWidths = [32, 16]
        c.steps = steps
        c.projector = [32, 32, 32].prefix(method == .simclr ? 1 : (method == .barlow || method == .vicreg ? 3 : 2)).map { $0 }
        c.queueSize = 32
        c.prototypes = 8
        c.localCrops = 2
        c.evalEvery = 1
        return c
    }

    static func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("train-\(UUID().uuidString)").path
    }

    /// Runs `steps` steps of `method` on `backend`; returns the trainer after the run.
    @discardableResult
    static func run(_ method: Method, steps: Int = 3, on backend: any Backend, folder: String? = nil) throws -> Trainer {
        let trainer = try Trainer(config: config(method, steps: steps), data: try data(), backend: backend,
                                  outputFolder: folder ?? self.folder(), progress: ProgressReporter(logEvery: 1000, forceTerminal: false))
        try trainer.run()
        return trainer
    }
}
