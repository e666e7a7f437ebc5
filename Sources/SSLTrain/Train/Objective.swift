// What a method contributes to the training loop: its networks, its views, and one step of
// forward, loss and backward. The loop (Trainer.swift) does the rest.
import SSLCore

/// Where in the run a step is.
public struct StepContext {
    public let backend: any Backend
    public let epoch: Int
    /// 0-based step within the epoch, and over the run.
    public let step: Int, globalStep: Int
    public let stepsPerEpoch: Int, totalSteps: Int
    /// Global sample indices of this rank's rows of the batch, in batch order.
    public let indices: [Int]
    /// Global sample indices of the whole global batch (every rank's rows, rank order).
    public let globalIndices: [Int]
    /// The data-parallel group; one process without mpirun.
    public let group: DataParallel

    public init(backend: any Backend, epoch: Int, step: Int, globalStep: Int, stepsPerEpoch: Int, totalSteps: Int,
                indices: [Int], globalIndices: [Int]? = nil, group: DataParallel = .local()) {
        (self.backend, self.epoch, self.step, self.globalStep) = (backend, epoch, step, globalStep)
        (self.stepsPerEpoch, self.totalSteps) = (stepsPerEpoch, totalSteps)
        (self.indices, self.globalIndices, self.group) = (indices, globalIndices ?? indices, group)
    }

    /// Progress through the run in [0, 1], for the EMA and temperature schedules.
    public var progress: Double { totalSteps > 0 ? Double(globalStep) / Double(totalSteps) : 1 }
}

/// A method's side of training: the 11 built-in methods and any you write.
///
/// `step` runs the networks on the batch's views, evaluates the method's loss (an objective of
/// SSLCore's `Losses/`, or your own), walks the backward passes in reverse and **adds** every
/// gradient into the parameters; ``Trainer`` zeroed them before and applies the optimizer after,
/// and gives the run its checkpoints, resume, step log, kNN per epoch and data parallelism.
/// ``backpropagate(_:through:batching:group:on:loss:)`` is the usual body of `step`; the
/// <doc:AddingAMethod> article writes a whole method.
public protocol Objective: AnyObject {
    /// The method's name, for messages and checkpoints: a run resumes only with the objective
    /// of the same name.
    var name: String { get }
    /// The encoder whose output is the representation that is evaluated and exported.
    var encoder: any FeatureLayer { get }
    /// Every layer whose parameters the optimizer updates (encoder first).
    var trainable: [any Layer] { get }
    /// Every other tensor a checkpoint must hold: teacher copies, queues, banks, centres, prototypes'
    /// state. BN running statistics of `trainable` layers are saved by the trainer.
    var state: [NamedBuffer] { get }
    /// The views of each sample, view 0 first.
    var augmentation: AugmentPipeline { get }
    /// Networks that run in training mode but are not trained by the optimizer (EMA teachers):
    /// their batch norms are synchronised over ranks too.
    var teacherLayers: [any Layer] { get }

    /// Once before each epoch's first step (DeepCluster's k-means, SeLA's pseudo-labels).
    func beginEpoch(_ epoch: Int, trainer: Trainer) throws
    /// One batch: `views[k]` is view k of every sample, `(N, C, H, W)`. Returns the loss, shape `[]`.
    func step(_ views: [Tensor], _ context: StepContext) throws -> Tensor
    /// Parameter names the optimizer must leave alone this step (SwAV's prototypes and DINO's
    /// last layer early in training).
    func frozen(_ context: StepContext) -> Set<String>
    /// After the gradients are averaged over the ranks and before the optimizer: clipping,
    /// which must see the global gradient.
    func beforeOptimizer(_ context: StepContext) throws
    /// After the optimizer: EMA teachers, queues.
    func afterStep(_ context: StepContext) throws
    /// The weight decay of this step from the run's `base` (DINO's cosine schedule); `base` by default.
    func weightDecay(_ context: StepContext, base: Double) -> Double
}

extension Objective {
    public func beginEpoch(_ epoch: Int, trainer: Trainer) throws {}
    public func frozen(_ context: StepContext) -> Set<String> { [] }
    public func beforeOptimizer(_ context: StepContext) throws {}
    public func afterStep(_ context: StepContext) throws {}
    public func weightDecay(_ context: StepContext, base: Double) -> Double { base }
    public var state: [NamedBuffer] { [] }
    public var teacherLayers: [any Layer] { [] }

    /// Every parameter the optimizer updates.
    public var parameters: [Parameter] { trainable.flatMap(\.parameters) }
}

extension Array where Element == any Layer {
    /// Runs the layers in order; returns the output and the caches for ``backward(_:_:)``.
    public func forward(_ x: Tensor) throws -> (output: Tensor, caches: [LayerCache]) {
        var out = x, caches: [LayerCache] = []
        caches.reserveCapacity(count)
        for layer in self {
            let (y, cache) = try layer.forward(out)
            out = y
            caches.append(cache)
        }
        return (out, caches)
    }

    /// The backward of ``forward(_:)``: walks the layers in reverse, adding parameter gradients;
    /// returns ∂L/∂input.
    @discardableResult
    public func backward(_ caches: [LayerCache], _ dY: Tensor) throws -> Tensor {
        guard caches.count == count else {
            throw SSLError.invalidArgument(op: "backward", detail: "\(caches.count) caches for \(count) layers")
        }
        var d = dY
        for (layer, cache) in zip(self, caches).reversed() { d = try layer.backward(cache, d) }
        return d
    }

    /// ``backward(_:_:)`` for an input that needs no gradient (images, views): the layers before
    /// the first with parameters (a flatten) are skipped, and that one adds its parameter
    /// gradients only (``Layer/backwardParameters(_:_:)``). The parameter gradients equal
    /// ``backward(_:_:)``'s.
    public func backwardParameters(_ caches: [LayerCache], _ dY: Tensor) throws {
        guard caches.count == count else {
            throw SSLError.invalidArgument(op: "backwardParameters", detail: "\(caches.count) caches for \(count) layers")
        }
        guard let first = firstIndex(where: { !$0.parameters.isEmpty }) else { return }
        var d = dY
        for i in indices.reversed() where i > first { d = try self[i].backward(caches[i], d) }
        try self[first].backwardParameters(caches[first], d)
    }
}

/// The encoders `--encoder` names, for `channels`×`size`×`size` images.
public enum EncoderFactory {
    /// - Parameters:
    ///   - kind: `mlp`, `convnet` or `resnet`.
    ///   - widths: the MLP's hidden widths (default 1024, 512), the ConvNet's block channels
    ///     then its dense width (default 16, 32, 512), or the ResNet's stage widths (default
    ///     32, 64, 128; the stem has the first).
    ///   - channels: the images' channels.
    ///   - size: the images' side in pixels.
    ///   - seed: with each layer's name, fixes its initial values.
    ///   - backend: where the parameters live.
    public static func make(_ kind: String, widths: [Int]? = nil, channels: Int, size: Int, seed: UInt64,
                            on backend: any Backend) throws -> any FeatureLayer {
        switch kind {
        case "mlp":
            return try MLPEncoder(name: "encoder", dims: [channels * size * size] + (widths ?? [1024, 512]), seed: seed, on: backend)
        case "convnet":
            let w = widths ?? [16, 32, 512]
            guard w.count >= 2 else {
                throw SSLError.invalidArgument(op: "train", detail: "the convnet encoder's widths are its block channels, then its "
                                               + "dense width: at least two, got \(w)")
            }
            return try ConvNetEncoder(name: "encoder", inputChannels: channels, size: size, channels: Array(w.dropLast()),
                                      hidden: w.last!, seed: seed, on: backend)
        case "resnet":
            let stages = widths ?? [32, 64, 128]
            return try ResNetEncoder(name: "encoder", inputChannels: channels, stemWidth: stages[0], stageWidths: stages,
                                     seed: seed, on: backend)
        default:
            throw SSLError.invalidArgument(op: "train", detail: "unknown encoder \(kind) (mlp, convnet, resnet)")
        }
    }
}

/// A teacher (target, key) network: a copy of `online`'s parameters, updated by EMA, never by
/// the optimizer. BYOL, MoCo and DINO.
///
/// Return its ``layers`` as ``Objective/teacherLayers`` (their batch norms are synchronised over
/// ranks) and its ``state`` in ``Objective/state`` (checkpoints); update it in
/// ``Objective/afterStep(_:)`` with ``EMA/update(teacher:online:momentum:on:)``.
public final class Teacher {
    public let layers: [any Layer]

    /// Builds `layers` (the same architecture and names as the online network) and copies the
    /// online values into them.
    public init(_ layers: [any Layer], copying online: [any Layer], on backend: any Backend) throws {
        self.layers = layers
        try EMA.update(teacher: layers, online: online, momentum: 0, on: backend)
    }

    /// Tensors to checkpoint: teacher parameters and BN statistics, prefixed `teacher/`.
    public var state: [NamedBuffer] {
        layers.flatMap { layer in
            layer.parameters.map { NamedBuffer(name: "teacher/" + $0.name, tensor: $0.value) }
                + layer.buffers.map { NamedBuffer(name: "teacher/" + $0.name, tensor: $0.tensor) }
        }
    }
}

/// Exponential moving averages of a network's parameters.
public enum EMA {
    /// teacher ← m·teacher + (1 − m)·online for every parameter (BN statistics are the teacher's own).
    public static func update(teacher: [any Layer], online: [any Layer], momentum: Double, on backend: any Backend) throws {
        let t = teacher.flatMap(\.parameters).map(\.value), o = online.flatMap(\.parameters).map(\.value)
        try backend.emaUpdate(teacher: t, online: o, momentum: Float(momentum))
    }

    /// BYOL's and DINO's cosine schedule from `base` to 1 over the run.
    public static func cosine(base: Double, _ context: StepContext) throws -> Double {
        try EMASchedule(base: base).momentum(step: context.globalStep, totalSteps: context.totalSteps)
    }
}
