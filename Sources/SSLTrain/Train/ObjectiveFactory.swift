// Building the objective `--method` names, with its paper's heads.
import SSLCore

/// What every objective is built from: the run's configuration, its backend and its images.
///
/// The built-in methods and a user's ``Objective`` alike build their encoder, temperature and
/// views from it, so that `--encoder`, `--encoder-widths`, `--seed`, `--temperature` and
/// `--crop-scale` apply to both.
public struct ObjectiveSetup {
    public let config: TrainConfig
    public let backend: any Backend
    /// The training images' shape and count, and the normalisation their views get.
    public let channels: Int, imageSize: Int, datasetSize: Int
    public let normalization: Normalization

    public init(config: TrainConfig, backend: any Backend, channels: Int, imageSize: Int, datasetSize: Int,
                normalization: Normalization) {
        self.config = config
        self.backend = backend
        (self.channels, self.imageSize, self.datasetSize) = (channels, imageSize, datasetSize)
        self.normalization = normalization
    }

    /// The setup of a run on `data`: its training images' shape and count.
    public init(config: TrainConfig, data: TrainingData, backend: any Backend) {
        self.init(config: config, backend: backend, channels: data.train.channels, imageSize: data.train.height,
                  datasetSize: data.train.count, normalization: data.normalization)
    }

    /// The temperature the config sets, else `paper`.
    public func temperature(_ paper: Double) -> Double { config.temperature ?? paper }

    /// A new encoder of the configured kind and widths (``EncoderFactory``), seeded by the run's seed.
    public func encoder() throws -> any FeatureLayer {
        try EncoderFactory.make(config.encoder, widths: config.encoderWidths, channels: channels, size: imageSize,
                                seed: config.seed, on: backend)
    }

    /// Two views per sample, both of `policy` (each view draws from its own stream), adapted to
    /// the images (``adapted(_:local:)``).
    public func twoViews(_ policy: (Int) -> ViewPolicy) -> AugmentPipeline {
        AugmentPipeline(views: [adapted(policy(0)), adapted(policy(1))], normalization: normalization, seed: config.seed)
    }

    /// A recipe made for 224-pixel ImageNet crops, adapted to the images at hand: `cropScale`
    /// when the configuration sets it (global views only: a local crop is small by design), and
    /// no Gaussian blur below 64 pixels, as SimCLR's CIFAR recipe (Chen et al. 2020, B.9): a blur
    /// of σ up to 2 px wipes out a 28-pixel image.
    public func adapted(_ policy: ViewPolicy, local: Bool = false) -> ViewPolicy {
        var p = policy
        if let s = config.cropScale, !local { p.scale = s[0]...s[1] }
        if imageSize < 64 { p.blurProbability = 0 }
        return p
    }

    /// ``adapted(_:local:)`` for every view of a multi-crop pipeline: views 0 and 1 are the
    /// global crops, the rest local ones.
    public func adapted(_ pipeline: AugmentPipeline) -> AugmentPipeline {
        var p = pipeline
        p.views = p.views.enumerated().map { adapted($0.element, local: $0.offset >= 2) }
        return p
    }
}

/// The objective of each built-in method.
public enum ObjectiveFactory {
    /// The objective `setup.config.method` names, with its paper's heads.
    public static func make(_ setup: ObjectiveSetup) throws -> any Objective {
        switch setup.config.method {
        case .barlow: return try BarlowTwinsObjective(setup)
        case .vicreg: return try VICRegObjective(setup)
        case .simclr: return try SimCLRObjective(setup)
        case .byol: return try BYOLObjective(setup)
        case .simsiam: return try SimSiamObjective(setup)
        case .moco: return try MoCoObjective(setup)
        case .memorybank: return try MemoryBankObjective(setup)
        case .deepcluster: return try DeepClusterObjective(setup)
        case .sela: return try SeLAObjective(setup)
        case .swav: return try SwAVObjective(setup)
        case .dino: return try DINOObjective(setup)
        }
    }
}

/// The optimizer, base learning rate (per 256 samples) and weight decay of each method's paper.
public struct OptimizerRecipe: Equatable {
    public let kind: OptimizerKind
    public let baseLR: Double
    public let weightDecay: Double

    public static func paper(_ method: Method) -> OptimizerRecipe {
        switch method {
        case .barlow: return .init(kind: .lars, baseLR: 0.2, weightDecay: 1.5e-6)       // main.py --learning-rate-weights 0.2
        case .vicreg: return .init(kind: .lars, baseLR: 0.2, weightDecay: 1e-6)         // main_vicreg.py --base-lr 0.2, --wd 1e-6
        case .simclr: return .init(kind: .lars, baseLR: 0.3, weightDecay: 1e-6)         // 0.3 × B/256, wd 1e-6
        case .byol: return .init(kind: .lars, baseLR: 0.2, weightDecay: 1.5e-6)         // 0.2 × B/256, wd 1.5e-6
        case .simsiam: return .init(kind: .sgd, baseLR: 0.05, weightDecay: 1e-4)        // 0.05 × B/256, wd 1e-4
        case .moco: return .init(kind: .sgd, baseLR: 0.03, weightDecay: 1e-4)           // 0.03 for 256, wd 1e-4
        case .memorybank: return .init(kind: .sgd, baseLR: 0.03, weightDecay: 5e-4)     // lemniscate: 0.03, wd 5e-4
        case .swav: return .init(kind: .lars, baseLR: 0.3, weightDecay: 1e-6)           // 4.8 for 4096 → 0.3 per 256
        case .deepcluster: return .init(kind: .sgd, baseLR: 0.05, weightDecay: 1e-5)    // main.py --lr 0.05 --wd -5
        case .sela: return .init(kind: .sgd, baseLR: 0.05, weightDecay: 1e-5)           // self-label: lr 0.05
        case .dino: return .init(kind: .adamw, baseLR: 0.0005, weightDecay: 0.04)       // 0.0005 × B/256, wd 0.04
        }
    }
}
