// The training loop: data, views, the method's step, the optimizer and its schedule, logging,
// evaluation, checkpoints and resume.
import Foundation
import SSLCore

/// What a run writes into its output folder, and reads back on `--resume`.
public struct RunFiles {
    public let folder: String
    public init(folder: String) { self.folder = folder }
    public var checkpoint: String { folder + "/checkpoint.npz" }
    public var steps: String { folder + "/steps.jsonl" }
    public var metrics: String { folder + "/metrics.json" }
    public var report: String { folder + "/report.svg" }
    /// Every file a run writes.
    public var all: [String] { [checkpoint, steps, metrics, report] }
}

/// The data of a run: unlabelled training images and a labelled evaluation pair.
public struct TrainingData {
    public let train: ImageDataset
    /// Labelled images for the kNN bank and the probe, and for testing; subsets of the data set's splits.
    public let evalTrain: ImageDataset, evalTest: ImageDataset
    public let normalization: Normalization

    public init(train: ImageDataset, evalTrain: ImageDataset, evalTest: ImageDataset, normalization: Normalization) {
        self.train = train
        self.evalTrain = evalTrain
        self.evalTest = evalTest
        self.normalization = normalization
    }
}

/// Metadata stored in every checkpoint, so a resumed run continues exactly where it stopped.
struct CheckpointMeta: Codable {
    var format = 1
    var config: TrainConfig
    /// The next step to run: epoch and step within it.
    var epoch: Int, step: Int, globalStep: Int
    var optimizerSteps: Int
    var history: History
    /// ``ImageDataset/digest`` of the training images (absent from older checkpoints).
    var trainingData: String?
    /// ``Objective/name`` (absent from older checkpoints, whose objective is `config.method`'s).
    var objective: String?
}

/// What the run has measured so far.
public struct History: Codable, Equatable {
    public var losses: [Double] = []
    /// (epoch, kNN top-1 on the evaluation subset).
    public var knn: [[Double]] = []
    public var imagesPerSecond: Double = 0
    public var wallSeconds: Double = 0
    /// Seconds this rank waited for collectives (0 with one process), and the bytes it put into
    /// them per step (the last step's, by purpose: gradients, embeddings, batch norm…).
    public var communicationSeconds: Double = 0
    public var communicationBytesPerStep: [String: Int] = [:]

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        losses = try c.decode([Double].self, forKey: .losses)
        knn = try c.decode([[Double]].self, forKey: .knn)
        imagesPerSecond = try c.decode(Double.self, forKey: .imagesPerSecond)
        wallSeconds = try c.decode(Double.self, forKey: .wallSeconds)
        // Absent from checkpoints written before data-parallel training.
        communicationSeconds = try c.decodeIfPresent(Double.self, forKey: .communicationSeconds) ?? 0
        communicationBytesPerStep = try c.decodeIfPresent([String: Int].self, forKey: .communicationBytesPerStep) ?? [:]
    }
}

/// A training run: data, views, the objective's step, the optimizer and its schedule, the step
/// log, kNN per epoch, checkpoints, resume and data parallelism.
///
/// ```swift
/// let trainer = try Trainer(config: config, data: data, backend: backend, outputFolder: "runs/simclr")
/// try trainer.run()
/// ```
/// A method of your own trains the same way: ``init(objective:config:data:backend:outputFolder:optimizer:schedule:progress:group:)``.
public final class Trainer {
    public let config: TrainConfig
    public let backend: any Backend
    public let data: TrainingData
    public let objective: any Objective
    public let optimizer: any Optimizer
    /// The configured weight decay, which ``Objective/weightDecay(_:base:)`` may schedule.
    private let baseWeightDecay: Double
    public let schedule: any LearningRateSchedule
    public let files: RunFiles
    /// The data-parallel group: this rank trains on its slice of every global batch.
    public let group: DataParallel
    /// Steps per epoch; steps of the whole schedule (all epochs); the step the run stops at
    /// (`config.steps`, else the end), so a run stopped early and resumed equals an uninterrupted one.
    public let stepsPerEpoch: Int, totalSteps: Int, stopStep: Int
    public private(set) var history = History()
    private let progress: ProgressReporter
    private var position = (epoch: 0, step: 0, globalStep: 0)
    private lazy var trainingDataDigest = data.train.digest
    /// Optimizer steps taken so far, resumed ones included.
    public var completedSteps: Int { position.globalStep }

    /// A run of the built-in method `config.method` (``ObjectiveFactory``).
    /// - Parameters:
    ///   - config: the method and every setting of the run.
    ///   - data: the training images and the labelled evaluation sets.
    ///   - backend: where the run computes.
    ///   - outputFolder: where the checkpoint, step log, metrics and report go.
    ///   - progress: the progress lines on standard error.
    ///   - group: the data-parallel ranks; one process by default.
    public convenience init(config: TrainConfig, data: TrainingData, backend: any Backend, outputFolder: String,
                            progress: ProgressReporter = ProgressReporter(), group: DataParallel = .local()) throws {
        try Self.validate(config, data, group)
        try self.init(objective: try ObjectiveFactory.make(ObjectiveSetup(config: config, data: data, backend: backend)),
                      config: config, data: data, backend: backend, outputFolder: outputFolder, progress: progress, group: group)
    }

    /// A run of any objective: one of yours, or a built-in one you configured.
    ///
    /// `config` gives the run's length, batch size, seed, evaluation and data parallelism; the
    /// optimizer and schedule default to those `config` describes (its `optimizer`, `baseLR` and
    /// `weightDecay`, else the paper's of `config.method`; a linear warm-up and cosine decay over
    /// the run).
    /// - Parameters:
    ///   - objective: its ``Objective/name`` is stored in checkpoints; a resume checks it.
    ///   - config: the run's length, batch, seed, evaluation and data parallelism.
    ///   - data: the training images and the labelled evaluation sets.
    ///   - backend: where the run computes.
    ///   - outputFolder: where the checkpoint, step log, metrics and report go.
    ///   - optimizer: over the objective's ``Objective/parameters``, in their order.
    ///   - schedule: the learning rate of each global step.
    ///   - progress: the progress lines on standard error.
    ///   - group: the data-parallel ranks; one process by default.
    public init(objective: any Objective, config: TrainConfig, data: TrainingData, backend: any Backend, outputFolder: String,
                optimizer: (any Optimizer)? = nil, schedule: (any LearningRateSchedule)? = nil,
                progress: ProgressReporter = ProgressReporter(), group: DataParallel = .local()) throws {
        try Self.validate(config, data, group)
        self.config = config
        self.backend = backend
        self.data = data
        self.group = group
        self.progress = progress
        self.objective = objective
        files = RunFiles(folder: outputFolder)
        stepsPerEpoch = data.train.count / config.batchSize
        let (total, overflow) = stepsPerEpoch.multipliedReportingOverflow(by: config.epochs)
        guard !overflow else {
            throw SSLError.invalidArgument(op: "train", detail: "--epochs \(config.epochs) of \(stepsPerEpoch) steps each is "
                                           + "more steps than can be counted")
        }
        totalSteps = total
        stopStep = min(config.steps ?? totalSteps, totalSteps)
        let recipe = OptimizerRecipe.paper(config.method)
        if let schedule {
            self.schedule = schedule
        } else {
            let lr = try LinearScalingRule.learningRate(base: config.baseLR ?? recipe.baseLR, batchSize: config.batchSize)
            // The papers warm up for 10 epochs; a short run warms up for a tenth of itself instead.
            let warmup = Int(min(config.warmupEpochs * Double(stepsPerEpoch), Double(totalSteps / 10)))
            self.schedule = try LinearWarmupCosine(baseLR: lr, warmupSteps: warmup, totalSteps: totalSteps, finalLR: lr * 0.001)
        }
        let parameters = objective.parameters
        if let optimizer {
            guard optimizer.parameters.map(\.name) == parameters.map(\.name) else {
                throw SSLError.invalidArgument(op: "train", detail: "the optimizer updates \(optimizer.parameters.count) parameters "
                                               + "that are not the objective's \(parameters.count) in their order")
            }
            self.optimizer = optimizer
            baseWeightDecay = optimizer.weightDecay
        } else {
            let decay = config.weightDecay ?? recipe.weightDecay
            baseWeightDecay = decay
            switch config.optimizer ?? recipe.kind {
            case .sgd: self.optimizer = try SGD(parameters: parameters, options: SGDOptions(momentum: 0.9, weightDecay: decay), on: backend)
            case .lars: self.optimizer = try LARS(parameters: parameters, options: LARSOptions(weightDecay: decay), on: backend)
            case .adamw: self.optimizer = try AdamW(parameters: parameters, options: AdamWOptions(weightDecay: decay), on: backend)
            }
        }
        if group.size > 1 && config.syncBatchNorm {
            for layer in (objective.trainable + objective.teacherLayers).flatMap(\.descendants) {
                (layer as? BatchNorm)?.synchronization = group
            }
        }
    }

    /// What a run needs of its configuration, data and group before anything is built.
    private static func validate(_ config: TrainConfig, _ data: TrainingData, _ group: DataParallel) throws {
        try config.validate()
        guard config.batchSize % group.size == 0 else {
            throw SSLError.invalidArgument(op: "train", detail: "the global batch \(config.batchSize) does not split evenly "
                                           + "over \(group.size) ranks; use a multiple of \(group.size)")
        }
        guard data.evalTrain.count >= group.size, data.evalTest.count >= group.size else {
            throw SSLError.invalidArgument(op: "train", detail: "the evaluation sets (\(data.evalTrain.count) and "
                                           + "\(data.evalTest.count) images) must give every one of \(group.size) ranks a share")
        }
        let train = data.train
        guard train.height == train.width else {
            throw SSLError.invalidArgument(op: "train", detail: "images must be square, got \(train.height)×\(train.width)")
        }
        guard train.count >= config.batchSize else {
            throw SSLError.invalidArgument(op: "train", detail: "\(train.count) images do not fill one batch of \(config.batchSize)")
        }
    }

    /// Whether this process writes the run's files (rank 0; every rank reads them on resume).
    public var writesFiles: Bool { group.rank == 0 }

    // MARK: - The loop

    /// Trains until the last epoch or `config.steps`, checkpointing at each epoch's end.
    public func run() throws {
        try group.requireSame(try config.canonicalJSON(), what: "configuration")
        if writesFiles {
            try AtomicFile.createFolders(files.folder)
            // A run killed while writing leaves its temporary file; the next run in the folder removes it.
            for file in [files.checkpoint, files.steps] { AtomicFile.removeAbandonedTemporaries(of: URL(fileURLWithPath: file)) }
        }
        let log = writesFiles ? try StepLog(path: files.steps, keepingFirst: position.globalStep) : nil
        let started = Date(), wallBefore = history.wallSeconds, waitBefore = group.waitSeconds
        let communicationBefore = history.communicationSeconds
        var images = 0
        while position.globalStep < stopStep {
            let epoch = position.epoch
            if position.step == 0 { try objective.beginEpoch(epoch, trainer: self) }
            // The host side of each step (gathering images, drawing the views' parameters) runs
            // one step ahead on a background thread while the device works on the current one.
            let loader = try DataLoader(dataset: data.train, globalBatch: config.batchSize, seed: config.seed,
                                        rank: group.rank, worldSize: group.size)
            let first = position.step, pipeline = objective.augmentation, image = (data.train.height, data.train.width)
            let order = loader.sampler.order(epoch: epoch), train = data.train, (rank, ranks) = (group.rank, group.size)
            let batches = Prefetcher(count: stepsPerEpoch - first) { s -> (HostBatch, AugmentPlan, [Int]) in
                let global = try loader.sampler.batchIndices(order: order, step: first + s, globalBatch: self.config.batchSize,
                                                             rank: 0, worldSize: 1)
                let mine = BatchSampler.slice(global, rank: rank, worldSize: ranks)
                let batch = HostBatch(epoch: epoch, step: first + s, indices: mine, images: try train.images(mine),
                                      shape: [mine.count, train.channels, train.height, train.width], labels: try train.labels(mine))
                // Views are keyed by (seed, epoch, global index): the same whatever the number of ranks.
                return (batch, try pipeline.plan(epoch: epoch, indices: mine, imageHeight: image.0, imageWidth: image.1), global)
            }
            var windowStart = Date(), windowImages = 0
            // Each step's loss is read back after the next step is enqueued, so that the device
            // never waits for the host between steps; the step log, the progress line and the
            // NaN check run one step behind, and every step is read before the epoch ends.
            var pending: (loss: Tensor, step: Int, globalStep: Int, lr: Double, images: Int)? = nil
            func finishPending() throws {
                guard let p = pending else { return }
                pending = nil
                let loss = try group.mean(Double(try backend.download(p.loss)[0]))
                guard loss.isFinite else {
                    throw SSLError.nonFinite(what: "the \(objective.name) loss at epoch \(epoch) step \(p.step) (lower the learning rate?)")
                }
                history.losses.append(loss)
                try log?.append(step: p.globalStep, epoch: epoch, loss: loss, lr: p.lr)
                history.communicationBytesPerStep = group.takeTraffic()
                images += p.images
                windowImages += p.images
                let rate = Double(windowImages) / max(Date().timeIntervalSince(windowStart), 1e-9)
                if windowImages >= 20 * config.batchSize { (windowStart, windowImages) = (Date(), 0) }
                if writesFiles {
                    let elapsed = max(Date().timeIntervalSince(started), 1e-9), waited = group.waitSeconds - waitBefore
                    progress.step(epoch: epoch + 1, epochs: config.epochs, step: p.step + 1, stepsPerEpoch: stepsPerEpoch,
                                  globalStep: p.globalStep + 1, totalSteps: stopStep, loss: loss, imagesPerSecond: rate,
                                  extra: group.size == 1 ? "" : String(format: "%d ranks, comm wait %.0f%%", group.size,
                                                                       100 * waited / elapsed))
                }
            }
            while position.step < stepsPerEpoch && position.globalStep < stopStep, let (batch, plan, global) = try batches.next() {
                let indices = batch.indices
                let context = StepContext(backend: backend, epoch: epoch, step: position.step, globalStep: position.globalStep,
                                          stepsPerEpoch: stepsPerEpoch, totalSteps: totalSteps, indices: indices,
                                          globalIndices: global, group: group)
                let lr = try schedule.learningRate(at: position.globalStep)
                let loss = try enqueueStep(batch, plan: plan, context: context, lr: lr)
                try finishPending()
                pending = (loss, position.step, position.globalStep, lr, global.count)
                position.step += 1
                position.globalStep += 1
            }
            try finishPending()
            let finishedEpoch = position.step == stepsPerEpoch
            if finishedEpoch { position = (epoch + 1, 0, position.globalStep) }
            let last = position.globalStep >= stopStep
            let evaluates = (finishedEpoch && config.evalEvery > 0 && (epoch + 1) % config.evalEvery == 0) || last
            if evaluates && config.evaluate {
                let accuracy = try quickKNN()
                history.knn.append([Double(epoch + (finishedEpoch ? 1 : 0)), accuracy])
                if writesFiles {
                    progress.note(String(format: "epoch %d: kNN top-1 %.2f%% (%d-image bank, %d test images)",
                                         epoch + 1, accuracy * 100, data.evalTrain.count, data.evalTest.count))
                }
            }
            history.wallSeconds = wallBefore + Date().timeIntervalSince(started)
            history.imagesPerSecond = Double(images) / max(Date().timeIntervalSince(started), 1e-9)
            history.communicationSeconds = communicationBefore + group.waitSeconds - waitBefore
            if writesFiles { try saveCheckpoint() }
        }
        if writesFiles { progress.note(communicationSummary) }
    }

    /// One line on what rank 0 exchanged: throughput, its share of time waiting, bytes per step.
    public var communicationSummary: String {
        guard group.size > 1 else { return String(format: "1 rank: %.1f images/s", history.imagesPerSecond) }
        let bytes = history.communicationBytesPerStep.sorted { $0.key < $1.key }
            .map { "\($0.key) \(Self.byteCount($0.value))" }.joined(separator: ", ")
        return String(format: "%d ranks: %.1f images/s, %.1f%% of the time waiting on communication; per step and rank: %@",
                      group.size, history.imagesPerSecond, 100 * history.communicationSeconds / max(history.wallSeconds, 1e-9),
                      bytes.isEmpty ? "nothing" : bytes)
    }

    static func byteCount(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? String(format: "%.1f MiB", Double(bytes) / Double(1 << 20))
            : bytes >= 1 << 10 ? String(format: "%.1f KiB", Double(bytes) / 1024) : "\(bytes) B"
    }

    /// One optimizer step on the samples `indices`, gathered and planned on this thread.
    func trainStep(indices: [Int], context: StepContext, lr: Double) throws -> Double {
        let t = data.train
        let batch = HostBatch(epoch: context.epoch, step: context.step, indices: indices, images: try t.images(indices),
                              shape: [indices.count, t.channels, t.height, t.width], labels: try t.labels(indices))
        let plan = try objective.augmentation.plan(epoch: context.epoch, indices: indices, imageHeight: t.height, imageWidth: t.width)
        return try trainStep(batch, plan: plan, context: context, lr: lr)
    }

    /// One optimizer step on `batch` with the views of `plan`; returns the loss.
    func trainStep(_ batch: HostBatch, plan: AugmentPlan, context: StepContext, lr: Double) throws -> Double {
        try group.mean(Double(try backend.download(try enqueueStep(batch, plan: plan, context: context, lr: lr))[0]))
    }

    /// Enqueues one optimizer step; returns its loss, still on the device (this rank's share).
    private func enqueueStep(_ batch: HostBatch, plan: AugmentPlan, context: StepContext, lr: Double) throws -> Tensor {
        let images = try backend.upload(batch.images, shape: batch.shape)
        let views = try objective.augmentation.views(plan, of: images, on: backend)
        for p in objective.parameters { try p.zeroGradient(on: backend) }
        let loss = try objective.step(views, context)
        let frozen = objective.frozen(context)
        try group.averageGradients(objective.parameters, skipping: frozen, on: backend)
        try objective.beforeOptimizer(context)
        optimizer.weightDecay = objective.weightDecay(context, base: baseWeightDecay)
        try optimizer.step(lr: lr, skipping: frozen)
        try objective.afterStep(context)
        return loss
    }

    /// kNN top-1 of the current encoder on the evaluation subsets. Over several ranks each
    /// extracts the features of its share of the bank and of the test images; the test features
    /// are gathered and the per-rank neighbour lists merged (``KNNClassifier/classify(share:at:labels:test:group:on:)``).
    public func quickKNN() throws -> Double {
        let (bank, queries) = (data.evalTrain, data.evalTest)
        func share(_ count: Int) -> [Int] { BatchSampler.slice(Array(0..<count), rank: group.rank, worldSize: group.size) }
        let mine = share(bank.count)
        let train = try Features.extract(objective.encoder, dataset: bank, indices: mine, normalization: data.normalization,
                                         on: backend)
        let testShare = try Features.extract(objective.encoder, dataset: queries, indices: share(queries.count),
                                             normalization: data.normalization, on: backend)
        let test = group.size == 1 ? testShare
            : try FeatureMatrix(values: try group.gatherUneven(testShare.values, purpose: "kNN"), rows: queries.count,
                                columns: objective.encoder.outputDimension)
        let knn = try KNNClassifier(k: min(20, bank.count)).classify(share: train, at: mine.first ?? 0, labels: bank.labels ?? [],
                                                                     test: test, group: group, on: backend)
        return try EvalMetrics.accuracy(predictions: knn.predictions, labels: queries.labels ?? [])
    }

    // MARK: - Checkpoints

    /// Every tensor of the run by name: parameters, BN statistics, optimizer state, method state.
    private func namedTensors() throws -> [NamedBuffer] {
        objective.trainable.flatMap { layer in
            layer.parameters.map { NamedBuffer(name: "model/" + $0.name, tensor: $0.value) }
                + layer.buffers.map { NamedBuffer(name: "model/" + $0.name, tensor: $0.tensor) }
        } + (try optimizer.state).map { NamedBuffer(name: "optimizer/" + $0.name, tensor: $0.tensor) }
            + objective.state.map { NamedBuffer(name: "method/" + $0.name, tensor: $0.tensor) }
    }

    /// Writes `checkpoint.npz` atomically.
    public func saveCheckpoint() throws {
        var writer = CheckpointWriter()
        for t in try namedTensors() { try writer.add(t.name, t.tensor, on: backend) }
        try writer.setMetadata(CheckpointMeta(config: config, epoch: position.epoch, step: position.step,
                                              globalStep: position.globalStep, optimizerSteps: optimizer.stepCount,
                                              history: history, trainingData: trainingDataDigest,
                                              objective: objective.name))
        try writer.write(to: files.checkpoint)
    }

    /// Restores every tensor and the position from `path`; the run continues from there.
    /// - Throws: `SSLError.file(path:reason:)` when the checkpoint belongs to a run of another
    ///   configuration (``TrainConfig/trajectoryDifferences(from:)``: batch size, seed, data, model,
    ///   optimizer…; only the length of the run and its evaluation may change) or holds a position
    ///   this run cannot continue from.
    public func resume(from path: String) throws {
        let reader = try CheckpointReader(path: path)
        let meta = try reader.metadata(CheckpointMeta.self)
        if let first = try config.trajectoryDifferences(from: meta.config).first {
            throw SSLError.file(path: path, reason: "was written by a run with \(first.key) \(first.saved), but this run has "
                                + "\(first.key) \(first.given): resume with the same \(first.key), or start a new run in another folder")
        }
        let saved = meta.objective ?? meta.config.method.rawValue
        guard saved == objective.name else {
            throw SSLError.file(path: path, reason: "was written by a run of the objective \(saved), not \(objective.name): "
                                + "resume with the same objective, or start a new run in another folder")
        }
        let (global, overflow) = meta.epoch.multipliedReportingOverflow(by: stepsPerEpoch)
        guard meta.epoch >= 0, meta.step >= 0, meta.step < stepsPerEpoch, !overflow,
              meta.globalStep == global + meta.step, meta.optimizerSteps >= 0 else {
            throw SSLError.file(path: path, reason: "holds the position epoch \(meta.epoch), step \(meta.step), global step "
                                + "\(meta.globalStep), which a run of \(stepsPerEpoch) steps per epoch cannot continue from")
        }
        if let saved = meta.trainingData, saved != trainingDataDigest {
            throw SSLError.file(path: path, reason: "was trained on other images under the same name \(config.dataset) "
                                + "(\(saved); now \(trainingDataDigest)): resume on the images it was trained on, "
                                + "or start a new run in another folder")
        }
        for t in try namedTensors() where !t.name.hasPrefix("optimizer/") {
            try reader.restore(t.name, into: t.tensor, on: backend)
        }
        let state = try (try optimizer.state).map { entry -> (name: String, tensor: Tensor) in
            let (values, shape) = try reader.values("optimizer/" + entry.name)
            return (entry.name, try backend.upload(values, shape: shape))
        }
        try optimizer.restore(state: state, stepCount: meta.optimizerSteps)
        position = (meta.epoch, meta.step, meta.globalStep)
        history = meta.history
    }
}

/// `steps.jsonl`: one JSON object per optimizer step.
final class StepLog {
    private let handle: FileHandle

    /// Opens the log keeping its first `kept` lines: those of the steps a resumed checkpoint
    /// holds; lines of steps run after it (a run killed mid-epoch) are dropped, as they will run again.
    init(path: String, keepingFirst kept: Int) throws {
        let old = kept > 0 ? (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" : ""
        let lines = old.split(separator: "\n", omittingEmptySubsequences: true).prefix(kept)
        let text = lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
        try AtomicFile.write(Data(text.utf8), to: URL(fileURLWithPath: path))
        guard let handle = FileHandle(forWritingAtPath: path) else { throw SSLError.file(path: path, reason: "cannot open the step log") }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    deinit { try? handle.close() }

    func append(step: Int, epoch: Int, loss: Double, lr: Double) throws {
        let line = "{\"step\":\(step),\"epoch\":\(epoch),\"loss\":\(loss),\"lr\":\(lr)}\n"
        handle.write(Data(line.utf8))
    }
}

/// The encoder of a training checkpoint, for embedding and evaluation.
public enum TrainedEncoder {
    /// The configuration a checkpoint's run used.
    public static func peekConfig(_ path: String) throws -> TrainConfig {
        try CheckpointReader(path: path).metadata(CheckpointMeta.self).config
    }

    /// Rebuilds the encoder `path`'s run trained (from its stored configuration) and loads its
    /// parameters and batch-norm statistics; `imageChannels`/`imageSize` are the data's.
    public static func load(_ path: String, channels: Int, imageSize: Int,
                            on backend: any Backend) throws -> (encoder: any FeatureLayer, config: TrainConfig) {
        let reader = try CheckpointReader(path: path)
        let config = try reader.metadata(CheckpointMeta.self).config
        let encoder = try EncoderFactory.make(config.encoder, widths: config.encoderWidths, channels: channels,
                                              size: imageSize, seed: config.seed, on: backend)
        for p in encoder.parameters { try reader.restore("model/" + p.name, into: p.value, on: backend) }
        for b in encoder.buffers { try reader.restore("model/" + b.name, into: b.tensor, on: backend) }
        return (encoder, config)
    }

    /// The encoder and the head after it (`trainable[1]`: the projector, or a method's head) of
    /// `path`'s run, rebuilt from its stored configuration for `data`'s images, with their trained
    /// parameters and batch-norm statistics.
    public static func loadNetwork(_ path: String, data: TrainingData,
                                   on backend: any Backend) throws -> (encoder: any FeatureLayer, head: (any Layer)?, config: TrainConfig) {
        let (objective, config, _) = try loadObjective(path, data: data, on: backend)
        return (objective.encoder, objective.trainable.dropFirst().first, config)
    }

    /// The built-in objective of `path`'s run (`config.method`), rebuilt for `data`'s images, with
    /// every trainable layer's parameters and batch-norm statistics; and the optimizer steps it took.
    public static func loadObjective(_ path: String, data: TrainingData,
                                     on backend: any Backend) throws -> (objective: any Objective, config: TrainConfig, steps: Int) {
        let reader = try CheckpointReader(path: path)
        let meta = try reader.metadata(CheckpointMeta.self)
        if let name = meta.objective, name != meta.config.method.rawValue {
            throw SSLError.file(path: path, reason: "was trained with the objective \(name), not a built-in method: load it with "
                                + "your objective's layers (CheckpointReader)")
        }
        let objective = try ObjectiveFactory.make(ObjectiveSetup(config: meta.config, data: data, backend: backend))
        for layer in objective.trainable {
            for p in layer.parameters { try reader.restore("model/" + p.name, into: p.value, on: backend) }
            for b in layer.buffers { try reader.restore("model/" + b.name, into: b.tensor, on: backend) }
        }
        return (objective, meta.config, meta.globalStep)
    }
}
