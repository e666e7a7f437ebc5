// `ssl train`: self-supervised training of an encoder, then its evaluation against raw pixels
// and the randomly initialised encoder.
import ArgumentParser
import Foundation
import SSLCommandLine
import SSLDistributed
import SSLTrain

extension Method: ExpressibleByArgument {}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train an encoder with a self-supervised method and evaluate it (kNN, silhouette, linear probe).",
        discussion: """
            Writes into --out: checkpoint.npz (every epoch, atomically; --resume continues from it), \
            steps.jsonl (one line per step: step, epoch, loss, lr), metrics.json and report.svg. \
            Defaults are the method's paper's; --preset cpu trains a small MLP encoder for two \
            epochs with AdamW so that a run fits a few minutes on a CPU and evaluates on subsets, \
            --preset gpu trains the same recipe longer and evaluates on the full test set.

            Data parallel: `mpirun -np R ssl train …` runs R ranks; --batch-size stays the global \
            batch, each rank trains on its slice, and the run equals the single-process one \
            (batch norm synchronised, losses over the global batch, gradients averaged). Rank 0 \
            writes the files; every rank resumes from them, with any number of ranks.
            """)

    enum Preset: String, ExpressibleByArgument { case paper, cpu, gpu, auto }

    @Option(help: "The method: \(Method.allCases.map(\.rawValue).joined(separator: ", ")).") var method: Method?
    @Option(help: "A JSON file with any of the configuration keys (see TrainConfig); flags override it.") var config: String?
    @Option(help: "Sizes for the machine: paper (the papers' heads), cpu, gpu, or auto (gpu on a GPU, else cpu).")
    var preset: Preset = .paper
    @Option(help: "mlp or resnet.") var encoder: String?
    @Option(help: "Epochs.") var epochs: Int?
    @Option(help: "Global batch size.") var batchSize: Int?
    @Option(help: "Base learning rate per 256 images (scaled by batch/256); default: the paper's.") var lr: Double?
    @Option(help: "Stop after this many optimizer steps.") var steps: Int?
    @Option(help: "Projector widths, comma-separated (e.g. 8192,8192,8192).") var projector: String?
    @Option(help: "Train on the first N training images only.") var trainSubset: Int?
    @Option(help: "Data set: fashion-mnist, mnist:DIR, cifar10:DIR, npy:TRAIN_X,TRAIN_Y,TEST_X,TEST_Y.") var dataset: String?
    @Option(help: "Seed of initialisation, shuffling and augmentation.") var seed: UInt64?
    @Option(help: "Output folder.") var out: String = "runs/latest"
    @Flag(help: "Continue from OUT/checkpoint.npz.") var resume = false
    @Flag(help: "Only train and checkpoint: no kNN during training, no final evaluation.") var noEval = false
    @Flag(help: "Under mpirun, keep each rank's own batch-norm statistics instead of synchronising them.")
    var localBatchNorm = false
    @OptionGroup var device: DeviceOptions

    func validate() throws {
        if method == nil && config == nil { throw ValidationError("give --method or --config") }
    }

    func run() throws {
        let world = try Communicator.world()
        do {
            try train(in: world)
            try world.finalize()
        } catch {
            guard world.size > 1 else { throw error }
            // One failed rank must end the job, not leave the others waiting in a collective.
            printError("error: rank \(world.rank) of \(world.size) on \(world.hostName) failed: \(error)")
            world.abort(code: 1)
        }
    }

    private func train(in world: Communicator) throws {
        let backend = try device.backend(localRank: world.localRank)
        printError(world.size == 1 ? "device: \(backend.name)"
                   : "rank \(world.rank)/\(world.size) on \(world.hostName): device \(backend.name)")
        var c = try config.map { try TrainConfig.load($0) } ?? TrainConfig.defaults(for: method!)
        if let method, method != c.method { c = TrainConfig.defaults(for: method) }
        apply(preset == .auto ? (backend.isGPU ? .gpu : .cpu) : preset, to: &c)
        if let encoder { c.encoder = encoder }
        if let epochs { c.epochs = epochs }
        if let batchSize { c.batchSize = batchSize }
        if let lr { c.baseLR = lr }
        if let steps { c.steps = steps }
        if let trainSubset { c.trainSubset = trainSubset }
        if let dataset { c.dataset = dataset }
        if let seed { c.seed = seed }
        if noEval { c.evaluate = false }
        if localBatchNorm { c.syncBatchNorm = false }
        if let projector {
            let widths = projector.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !widths.isEmpty, widths.count == projector.split(separator: ",").count else {
                throw ValidationError("--projector: expected comma-separated widths, got '\(projector)'")
            }
            c.projector = widths
        }
        try c.validate()

        let data = try DataSources.load(c.dataset, trainSubset: c.trainSubset, evalTrain: c.evalTrain, evalTest: c.evalTest)
        let lead = world.rank == 0
        if lead {
            printError("data: \(data.train.name), \(data.train.count) training images \(data.train.channels)×\(data.train.height)×\(data.train.width)")
        }
        let trainer = try Trainer(config: c, data: data, backend: backend, outputFolder: out, group: DataParallel(world))
        if resume { try trainer.resume(from: trainer.files.checkpoint) }
        if lead {
            printError("\(c.method.paper): \(trainer.stopStep) steps of \(c.batchSize)"
                       + (world.size > 1 ? " (\(c.batchSize / world.size) per rank × \(world.size))" : "")
                       + ", \(c.encoder) encoder, output \(out)")
        }
        try trainer.run()
        guard lead && c.evaluate else { return }

        let random = try EncoderFactory.make(c.encoder, widths: c.encoderWidths, channels: data.train.channels,
                                             size: data.train.height, seed: c.seed, on: backend)
        let (summary, testFeatures) = try RunSummary.evaluate(trainer, randomEncoder: random)
        try summary.write(trainer.files, testFeatures: testFeatures, testLabels: data.evalTest.labels ?? [])
        print(summary.table)
    }

    /// Sizes of heads, epochs and evaluation for the machine, over the paper's defaults.
    ///
    /// `cpu` and `gpu` trade the papers' ImageNet schedule for one that learns in a short run on
    /// small images, and say so: AdamW at 1e-3 (LARS with η = 0.001 at batch 256, as the papers
    /// configure it, moves weights by ~2·10⁻⁴ of their norm per step and needs hundreds of
    /// epochs), crops of 40–100 % of the image (a 8 % crop of a 28-pixel image is a few pixels),
    /// an MLP encoder 784 → 512 → 256 and heads at a fraction of the papers' widths.
    private func apply(_ preset: Preset, to c: inout TrainConfig) {
        guard preset == .cpu || preset == .gpu else { return }
        c.optimizer = .adamw
        c.baseLR = 1e-3
        c.weightDecay = 1e-4
        c.cropScale = [0.4, 1]
        c.projector = Self.smallHeads[c.method]
        c.prototypes = Self.smallPrototypes[c.method]
        switch preset {
        case .cpu:
            c.encoderWidths = [512, 256]
            c.epochs = 2
            c.evalTrain = 10_000
            c.evalTest = 2_000
        default:
            c.encoderWidths = [1024, 512]
            c.epochs = 50
            c.batchSize = 512
            c.evalTrain = 60_000
            c.evalTest = 10_000
        }
    }

    /// Clusters and prototypes for 60 000 small images (the papers size them for ImageNet).
    static let smallPrototypes: [Method: Int] = [.swav: 300, .dino: 1024, .deepcluster: 100, .sela: 100]

    /// Heads a CPU trains in minutes: the papers' shapes at a fraction of their widths.
    static let smallHeads: [Method: [Int]] = [
        .barlow: [1024, 1024, 1024], .vicreg: [1024, 1024, 1024], .simclr: [128], .byol: [1024, 128],
        .simsiam: [1024, 256], .moco: [128], .memorybank: [128], .swav: [128], .dino: [1024],
    ]
}
