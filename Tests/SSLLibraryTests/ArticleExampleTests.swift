// The code of SSLTrain's DocC articles, compiled and run here; each article must hold its
// block word for word, so the two cannot drift apart.
import Foundation
import SSLCore
import SSLTrain
import Testing

// Article WritingATrainingLoop: begin
/// Barlow Twins written out: the loop that `Trainer` runs for you, then kNN on the encoder.
/// - Returns: the kNN top-1 accuracy on `data.evalTest`, with `data.evalTrain` as the bank.
func trainBarlowTwins(data: TrainingData, epochs: Int, batchSize: Int, backend: any Backend) throws -> Double {
    let size = data.train.height, inputs = data.train.channels * size * size
    let encoder = try MLPEncoder(name: "encoder", dims: [inputs, 512], seed: 0, on: backend)
    let projector = try MLPHead.barlowTwins(inputDimension: 512, dims: [1024, 1024], seed: 0, on: backend)
    let network: [any Layer] = [encoder, projector]
    let augmentation = AugmentPipeline.twoViews(size: size, normalization: data.normalization, seed: 0)
    let optimizer = try AdamW(parameters: network.flatMap(\.parameters), options: AdamWOptions(weightDecay: 1e-4), on: backend)
    let loader = try DataLoader(dataset: data.train, globalBatch: batchSize, seed: 0)
    let schedule = try LinearWarmupCosine(baseLR: 1e-3, warmupSteps: loader.stepsPerEpoch,
                                          totalSteps: epochs * loader.stepsPerEpoch, finalLR: 1e-6)
    var step = 0
    for epoch in 0..<epochs {
        let batches = loader.epoch(epoch)  // gathered on a background thread, one batch ahead
        while let batch = try batches.next() {
            let images = try backend.upload(batch.images, shape: batch.shape)
            let views = try augmentation.views(images, indices: batch.indices, epoch: epoch, on: backend)
            try optimizer.zeroGradients(on: backend)
            let loss = try backpropagate(views, through: network, on: backend) { z in
                let r = try backend.barlowTwins(z[0], z[1], lambda: 0.0051, eps: 1e-5)
                return (r.loss, [r.dZ1, r.dZ2])
            }
            try optimizer.step(lr: try schedule.learningRate(at: step))
            step += 1
            if step % 100 == 0 { print("step \(step): loss \(try loss.scalar())") }
        }
    }
    let bank = try Features.extract(encoder, dataset: data.evalTrain, indices: Array(0..<data.evalTrain.count),
                                    normalization: data.normalization, on: backend)
    let test = try Features.extract(encoder, dataset: data.evalTest, indices: Array(0..<data.evalTest.count),
                                    normalization: data.normalization, on: backend)
    let knn = try KNNClassifier(k: 20).classify(train: bank, labels: data.evalTrain.labels ?? [], test: test, on: backend)
    return try EvalMetrics.accuracy(predictions: knn.predictions, labels: data.evalTest.labels ?? [])
}
// Article WritingATrainingLoop: end

// Article AddingAMethod: begin
/// SimSiam rebuilt from the public pieces: a predictor after the projector, the loss on both
/// views, and each view's predictor backward before its backbone backward.
final class MySimSiam: Objective {
    let name = "my-simsiam"
    let encoder: any FeatureLayer
    let projector: MLPHead, predictor: MLPHead
    let augmentation: AugmentPipeline
    private let backend: any Backend

    init(_ setup: ObjectiveSetup) throws {
        backend = setup.backend
        encoder = try setup.encoder()
        projector = try MLPHead.simsiamProjector(inputDimension: encoder.outputDimension, outputDimension: 128,
                                                 seed: setup.config.seed, on: backend)
        predictor = try MLPHead.simsiamPredictor(dimension: 128, hiddenDimension: 32, seed: setup.config.seed, on: backend)
        augmentation = setup.twoViews { .byol(size: setup.imageSize, view: $0) }
    }

    var trainable: [any Layer] { [encoder, projector, predictor] }

    func step(_ views: [Tensor], _ context: StepContext) throws -> Tensor {
        let backbone: [any Layer] = [encoder, projector]
        let (z1, c1) = try backbone.forward(views[0]), (z2, c2) = try backbone.forward(views[1])
        let (p1, q1) = try predictor.forward(z1), (p2, q2) = try predictor.forward(z2)
        let r = try backend.simSiam(p1: p1, p2: p2, z1: z1, z2: z2)  // z under stop-gradient
        try backbone.backwardParameters(c2, try predictor.backward(q2, r.dP2))
        try backbone.backwardParameters(c1, try predictor.backward(q1, r.dP1))
        return r.loss
    }
}
// Article AddingAMethod: end

@Suite struct ArticleExampleTests {
    static let catalog = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/SSLTrain/Documentation.docc")

    @Test("each article holds this file's code for it, word for word", arguments: ["WritingATrainingLoop", "AddingAMethod"])
    func sameText(_ article: String) throws {
        let text = try String(contentsOf: Self.catalog.appendingPathComponent(article + ".md"), encoding: .utf8)
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let code = source.components(separatedBy: "// Article \(article): begin\n")[1].components(separatedBy: "// Article \(article): end")[0]
        #expect(text.contains("```swift\n" + code + "```"), "\(article).md differs from its code here")
    }

    @Test("the hand-written loop trains and its kNN beats chance on tiny images")
    func trainingLoop() throws {
        let data = TrainingData(train: try quadrants(count: 128, seed: 1), evalTrain: try quadrants(count: 64, seed: 2),
                                evalTest: try quadrants(count: 32, seed: 3), normalization: .identity(channels: 1))
        let accuracy = try trainBarlowTwins(data: data, epochs: 2, batchSize: 32, backend: userBackends.last!)
        #expect(accuracy > 0.5, "4 classes: chance is 0.25; got \(accuracy)")
    }

    @Test("the article's method trains through Trainer and resumes")
    func addedMethod() throws {
        let backend = userBackends.last!
        let data = TrainingData(train: try quadrants(count: 64, seed: 1), evalTrain: try quadrants(count: 32, seed: 2),
                                evalTest: try quadrants(count: 16, seed: 3), normalization: .identity(channels: 1))
        var config = TrainConfig(method: .simsiam)
        (config.batchSize, config.epochs, config.encoderWidths, config.steps) = (16, 1, [32], 2)
        let folder = NSTemporaryDirectory() + "ssl-article-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func trainer() throws -> Trainer {
            try Trainer(objective: try MySimSiam(ObjectiveSetup(config: config, data: data, backend: backend)), config: config,
                        data: data, backend: backend, outputFolder: folder, progress: ProgressReporter(silent: true))
        }
        try trainer().run()
        config.steps = 4
        let resumed = try trainer()
        try resumed.resume(from: resumed.files.checkpoint)
        try resumed.run()
        #expect(resumed.history.losses.count == 4 && resumed.history.losses.allSatisfy { $0.isFinite && $0 >= -1 && $0 <= 1 })
    }
}
