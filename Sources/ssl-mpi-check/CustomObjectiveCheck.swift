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

/// 64 images 1×8×8 of 4 classes (a bright quadrant each), labelled, deterministic.
func quadrantImages(count: Int, seed: UInt64) throws -> ImageDataset {
    var rng = SplitMix64(seed: seed)
    var pixels = [Float](repeating: 0, count: count * 64)
    for n in 0..<count {
        let label = n % 4, (top, left) = (label / 2 * 4, label % 2 * 4)
        for y in 0..<8 {
            for x in 0..<8 {
                let inside = (top..<top + 4).contains(y) && (left..<left + 4).contains(x)
                pixels[n * 64 + y * 8 + x] = min(max((inside ? 0.8 : 0.1) + Float(rng.gaussian()) * 0.05, 0), 1)
            }
        }
    }
    return try ImageDataset(name: "quadrants", channels: 1, height: 8, width: 8, pixels: .float(pixels),
                            labels: (0..<count).map { $0 % 4 }, classCount: 4)
}

func checkCustomObjective(_ world: Communicator) throws {
    let backend = ReferenceBackend()
    let data = TrainingData(train: try quadrantImages(count: 64, seed: 1), evalTrain: try quadrantImages(count: 32, seed: 2),
                            evalTest: try quadrantImages(count: 16, seed: 3), normalization: .identity(channels: 1))
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
