// A method written outside the library, trained by Trainer over the ranks of mpirun: its losses
// and trained weights must equal those of one process training on the whole batch.
import Foundation
import SSLCore
import SSLDistributed
import SSLTrain

/// SimCLR at T 0.2 as a user would write it: the loss sees every rank's rows through
/// `backpropagate`'s gather, and batch norm is synchronised over the ranks by the trainer.
final class UserSimCLR: Objective {
    let name = "user-simclr"
    let encoder: any FeatureLayer
    let projector: MLPHead
    let augmentation: AugmentPipeline
    private let backend: any Backend

    init(_ setup: ObjectiveSetup) throws {
        backend = setup.backend
        encoder = try setup.encoder()
        projector = try MLPHead.simclr(inputDimension: encoder.outputDimension, outputDimension: 8, seed: setup.config.seed, on: backend)
        augmentation = setup.twoViews { _ in .simclr(size: setup.imageSize) }
    }

    var trainable: [any Layer] { [encoder, projector] }

    func step(_ views: [Tensor], _ context: StepContext) throws -> Tensor {
        try backpropagate(views, through: trainable, batching: .joint, group: context.group, on: backend) { z in
            let r = try backend.ntXent(z[0], z[1], temperature: 0.2)
            return (r.loss, [r.dZ1, r.dZ2])
        }
    }
}

func checkCustomObjective(_ world: Communicator) throws {
    let backend = ReferenceBackend()
    let data = TrainingData(train: try .quadrants(count: 64, side: 8, seed: 1), evalTrain: try .quadrants(count: 32, side: 8, seed: 2),
                            evalTest: try .quadrants(count: 16, side: 8, seed: 3), normalization: .identity(channels: 1))
    var config = TrainConfig(method: .simclr)
    (config.batchSize, config.epochs, config.steps, config.evalEvery) = (16, 1, 3, 1)
    (config.encoderWidths, config.optimizer, config.baseLR) = ([16], .adamw, 1e-3)
    let root = NSTemporaryDirectory() + "ssl-mpi-check-\(ProcessInfo.processInfo.processIdentifier)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    func train(_ group: DataParallel, folder: String) throws -> Trainer {
        let trainer = try Trainer(objective: try UserSimCLR(ObjectiveSetup(config: config, data: data, backend: backend)),
                                  config: config, data: data, backend: backend, outputFolder: folder,
                                  progress: ProgressReporter(silent: true), group: group)
        try trainer.run()
        return trainer
    }
    let ranks = try train(DataParallel(world), folder: root + "/ranks")
    let alone = try train(.local(), folder: root + "/alone")
    let close = { (a: Double, b: Double) in abs(a - b) <= 1e-5 * max(1, abs(b)) }
    try expect(ranks.history.losses.count == 3 && zip(ranks.history.losses, alone.history.losses).allSatisfy(close),
               "losses \(ranks.history.losses) on \(world.size) ranks, \(alone.history.losses) alone")
    for (a, b) in zip(ranks.objective.parameters, alone.objective.parameters) {
        let (x, y) = (try backend.download(a.value), try backend.download(b.value))
        try expect(zip(x, y).allSatisfy { close(Double($0), Double($1)) }, "\(a.name) differs from one process's")
    }
    print("ok rank \(world.rank): a user's objective trained on \(world.size) ranks equals one process")
}
