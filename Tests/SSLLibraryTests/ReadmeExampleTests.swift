// The README's "Use it from your package" code, compiled and run here: the README's Swift block
// must equal the text between the markers below, so the two cannot drift apart.
import Foundation
import SSLCore
import SSLTrain
import Testing

// README: begin
/// SimCLR at a temperature of 0.2: a method of your own, trained by the library's Trainer.
final class MySimCLR: Objective {
    let name = "my-simclr"
    let encoder: any FeatureLayer
    let projector: MLPHead
    let augmentation: AugmentPipeline
    let backend: any Backend

    init(_ setup: ObjectiveSetup) throws {
        backend = setup.backend
        encoder = try setup.encoder()
        projector = try MLPHead.simclr(inputDimension: encoder.outputDimension, seed: setup.config.seed, on: backend)
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

/// Trains it with checkpoints, the step log and kNN per epoch; `ssl train --resume` semantics
/// through `trainer.resume(from:)`.
func trainMySimCLR(data: TrainingData, epochs: Int, folder: String, backend: any Backend) throws -> Trainer {
    var config = TrainConfig(method: .simclr)  // batch size, schedule and optimizer: the paper's…
    TrainPreset.cpu.apply(to: &config)         // …or the short-run recipe's
    config.epochs = epochs
    let objective = try MySimCLR(ObjectiveSetup(config: config, data: data, backend: backend))
    let trainer = try Trainer(objective: objective, config: config, data: data, backend: backend, outputFolder: folder)
    try trainer.run()
    return trainer
}

/// One step by hand, without Trainer: views, zeroed gradients, forward + loss + backward, update.
func oneStep(images: Tensor, indices: [Int], method: MySimCLR, optimizer: any Optimizer) throws -> Float {
    let views = try method.augmentation.views(images, indices: indices, epoch: 0, on: method.backend)
    try optimizer.zeroGradients(on: method.backend)
    let loss = try method.step(views, StepContext(backend: method.backend, epoch: 0, step: 0, globalStep: 0,
                                                  stepsPerEpoch: 1, totalSteps: 1, indices: indices))
    try optimizer.step(lr: 1e-3)
    return try loss.scalar()
}
// README: end

@Suite struct ReadmeExampleTests {
    @Test("the README's example is this file's, word for word")
    func sameText() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let ours = source.components(separatedBy: "// README: begin\n")[1].components(separatedBy: "// README: end")[0]
        #expect(readme.contains("```swift\nimport SSLCore\nimport SSLTrain\n\n" + ours + "```"), "README's Library example differs")
    }

    @Test("the README's example trains on tiny images and takes a step by hand")
    func runs() throws {
        let backend = userBackends.last!  // the OpenCL device where there is one: 0.8 s here, 12 s on the reference
        let data = TrainingData(train: try quadrants(count: 256, seed: 1), evalTrain: try quadrants(count: 32, seed: 2),
                                evalTest: try quadrants(count: 16, seed: 3), normalization: .identity(channels: 1))
        let folder = NSTemporaryDirectory() + "ssl-readme-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let trainer = try trainMySimCLR(data: data, epochs: 1, folder: folder, backend: backend)
        #expect(trainer.history.losses.count == 1 && trainer.history.losses[0].isFinite)  // 256 images: one batch of 256
        let method = trainer.objective as! MySimCLR
        let optimizer = try AdamW(parameters: method.parameters, on: backend)
        let loss = try oneStep(images: try data.train.upload(Array(0..<8), to: backend), indices: Array(0..<8),
                               method: method, optimizer: optimizer)
        #expect(loss.isFinite && loss > 0)
    }
}
