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
            Defaults are the method's paper's; --preset cpu trains a small encoder (an MLP; SimCLR's \
            a ConvNet) with each method's short-run recipe (ShortRunRecipe.table in SSLTrain: encoder, \
            optimizer, learning rate, heads, EMA, temperatures, crops, epochs) so that a run fits \
            minutes on a CPU, and evaluates with the 60 000 training images as the bank on the \
            10 000 test images; --preset gpu trains the \
            same recipes for \(TrainPreset.gpuEpochs) epochs, wider, with the full training set as the bank.

            Data parallel: `mpirun -np R ssl train …` runs R ranks; --batch-size stays the global \
            batch, each rank trains on its slice, and the run equals the single-process one \
            (batch norm synchronised, losses over the global batch, gradients averaged). Rank 0 \
            writes the files; every rank resumes from them, with any number of ranks.
            """)

    enum Preset: String, ExpressibleByArgument {
        case paper, cpu, gpu, auto

        /// `auto` is `gpu` on a GPU, else `cpu`.
        func resolved(gpu: Bool) -> TrainPreset {
            switch self {
            case .paper: return .paper
            case .cpu: return .cpu
            case .gpu: return .gpu
            case .auto: return gpu ? .gpu : .cpu
            }
        }
    }

    @Option(help: "The method: \(Method.allCases.map(\.rawValue).joined(separator: ", ")).") var method: Method?
    @Option(help: "A JSON file with any of the configuration keys (see TrainConfig); flags override it.") var config: String?
    @Option(help: "Sizes for the machine: paper (the papers' heads), cpu, gpu, or auto (gpu on a GPU, else cpu).")
    var preset: Preset = .paper
    @Option(help: "mlp, convnet or resnet.") var encoder: String?
    @Option(help: "Epochs.") var epochs: Int?
    @Option(help: "Global batch size.") var batchSize: Int?
    @Option(help: "Base learning rate per 256 images (scaled by batch/256); default: the paper's.") var lr: Double?
    @Option(help: "Stop after this many optimizer steps.") var steps: Int?
    @Option(help: "Projector widths, comma-separated (e.g. 8192,8192,8192).") var projector: String?
    @Option(help: "Train on the first N training images only.") var trainSubset: Int?
    @Option(help: "Hold out the last N training images as the evaluation split; the test split is not read (for choosing recipes).")
    var validation: Int?
    @Option(help: "Data set: fashion-mnist, mnist:DIR, cifar10:DIR, npy:TRAIN_X,TRAIN_Y,TEST_X,TEST_Y.") var dataset: String?
    @Option(help: "Seed of initialisation, shuffling and augmentation.") var seed: UInt64?
    @Option(help: "Output folder.") var out: String = "runs/latest"
    @Flag(help: "Continue from OUT/checkpoint.npz.") var resume = false
    @Flag(help: "Start a new run in --out although it holds another run's files (they are removed first).") var force = false
    @Flag(help: "Only train and checkpoint: no kNN during training, no final evaluation.") var noEval = false
    @Flag(help: "Print the configuration the other options resolve to, as JSON, and exit without training.")
    var printConfig = false
    @Flag(help: "Under mpirun, keep each rank's own batch-norm statistics instead of synchronising them.")
    var localBatchNorm = false
    @Flag(help: "Print at the end where the training steps spent the device's time: per kernel, GEMM, transfers, and the device's idle share (OpenCL only).")
    var profile = false
    @OptionGroup var device: DeviceOptions

    func validate() throws {
        if method == nil && config == nil { throw ValidationError("give --method or --config") }
        if resume && force { throw ValidationError("--resume continues the run in --out and --force replaces it: give one") }
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
        let file = try config.map { try TrainConfig.read($0) }
        var c = file?.config ?? TrainConfig.defaults(for: method!)
        if let method, let config, method != c.method {
            // Replacing the file's settings by another method's defaults would drop them unseen.
            throw ValidationError("--method \(method.rawValue) differs from the method of \(config) (\(c.method.rawValue)): "
                                  + "drop --method, or use a configuration of \(method.rawValue)")
        }
        // The file's keys win over the preset (an invalid one is reported, not replaced); flags win over
        // both. The encoder is set first, so that the preset gives its widths.
        var kept = file?.keys ?? []
        if let encoder { (c.encoder, kept) = (encoder, kept.union(["encoder"])) }
        preset.resolved(gpu: backend.isGPU).apply(to: &c, keeping: kept)
        if let epochs { c.epochs = epochs }
        if let batchSize { c.batchSize = batchSize }
        if let lr { c.baseLR = lr }
        if let steps { c.steps = steps }
        if let trainSubset { c.trainSubset = trainSubset }
        if let validation { c.validation = validation }
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
        if printConfig {
            if world.rank == 0 { print(try c.canonicalJSON()) }
            return
        }

        let data = try DataSources.load(c.dataset, trainSubset: c.trainSubset, evalTrain: c.evalTrain, evalTest: c.evalTest,
                                        validation: c.validation)
        let lead = world.rank == 0
        if lead {
            printError("data: \(data.train.name), \(data.train.count) training images \(data.train.channels)×\(data.train.height)×\(data.train.width)")
        }
        // A run's files must not land on its own inputs (--force would even remove them first).
        for output in RunFiles(folder: out).all {
            try refuseOverwriting((config.map { [$0] } ?? []) + DataSources.namedFiles(c.dataset), with: output)
        }
        if !resume { try claimOutputFolder(removingOldRun: force && lead) }
        let trainer = try Trainer(config: c, data: data, backend: backend, outputFolder: out, group: DataParallel(world))
        if resume { try trainer.resume(from: trainer.files.checkpoint) }
        if lead {
            printError("\(c.method.paper): \(trainer.stopStep) steps of \(c.batchSize)"
                       + (world.size > 1 ? " (\(c.batchSize / world.size) per rank × \(world.size))" : "")
                       + ", \(c.encoder) encoder, output \(out)")
        }
        let openCL = profile ? backend as? OpenCLBackend : nil
        if profile && openCL == nil { printError("--profile: \(backend.name) has no profiling events; nothing to profile") }
        openCL?.context.beginProfile()
        let started = Date(), stepsBefore = trainer.completedSteps
        try trainer.run()
        if let openCL {
            let table = try openCL.context.endProfile().table(wallSeconds: Date().timeIntervalSince(started),
                                                                 steps: trainer.completedSteps - stepsBefore)
            if lead { printError("profile of the training loop" + (c.evaluate ? " (with its kNN evaluations and checkpoints):" : ":") + "\n" + table) }
        }
        guard lead && c.evaluate else { return }

        let random = try EncoderFactory.make(c.encoder, widths: c.encoderWidths, channels: data.train.channels,
                                             size: data.train.height, seed: c.seed, on: backend)
        let (summary, testFeatures) = try RunSummary.evaluate(trainer, randomEncoder: random)
        try summary.write(trainer.files, testFeatures: testFeatures, testLabels: data.evalTest.labels ?? [])
        print(summary.table)
    }

    /// A new run does not write over another run's files unseen: the step log would be cut at
    /// once and the checkpoint replaced after the first epoch, leaving a folder whose log and
    /// checkpoint belong to different runs if this one stopped in between.
    private func claimOutputFolder(removingOldRun remove: Bool) throws {
        let files = RunFiles(folder: out)
        let present = files.all.filter { FileManager.default.fileExists(atPath: $0) }
        guard !present.isEmpty else { return }
        guard force else {
            let names = present.map { ($0 as NSString).lastPathComponent }.joined(separator: ", ")
            throw SSLError.file(path: out, reason: "holds another run (\(names)): --resume continues it, --force starts over")
        }
        for file in present where remove { try? FileManager.default.removeItem(atPath: file) }
    }
}
