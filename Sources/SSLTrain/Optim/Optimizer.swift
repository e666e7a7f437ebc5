// The optimizer protocol over a model's parameters, and the named state slots SGD, LARS and
// AdamW share (creation, export for checkpoints, checked restore).
import SSLCore

/// Updates a list of ``Parameter``s from their gradients, on their backend.
///
/// Parameter groups follow ``Parameter/isBiasOrNorm``: biases and normalisation parameters are
/// excluded from weight decay when an optimizer's `excludeBiasAndNormFromDecay` is true (the
/// default, as the SSL recipes do), and LARS never adapts them.
///
/// ```swift
/// let optimizer = try LARS(parameters: model.parameters, on: backend)
/// let schedule = try LinearWarmupCosine(baseLR: 0.2 * 2048 / 256, warmupSteps: 10 * stepsPerEpoch,
///                                       totalSteps: 1000 * stepsPerEpoch, finalLR: 0.2 * 2048 / 256 * 0.001)
/// for _ in 0..<steps {
///     // … forward, backward into the parameters' gradients …
///     try optimizer.step(lr: try schedule.learningRate(at: optimizer.stepCount))
/// }
/// ```
///
/// ### See Also
/// - ``SGD``, ``LARS``, ``AdamW``, ``LearningRateSchedule``
public protocol Optimizer: AnyObject {
    /// The parameters updated, in order; their names key the state.
    var parameters: [Parameter] { get }
    /// How many steps have been taken (a schedule's step for the next one).
    var stepCount: Int { get }
    /// The weight decay of the next steps (biases and norms excluded where the options say so);
    /// a schedule sets it before each step, as DINO's `param_group["weight_decay"] = wd_schedule[it]`.
    var weightDecay: Double { get set }

    /// One update of every parameter not named in `skipping`, from its current gradient.
    ///
    /// Skipped parameters and their state stay as they are, as PyTorch treats a parameter whose
    /// `grad` is `None` (DINO cancels the last layer's gradients during its first epoch).
    /// Throws before any parameter changes for a bad learning rate, bad hyperparameters or an
    /// unknown name in `skipping`.
    /// - Parameters:
    ///   - lr: the learning rate, finite and ≥ 0.
    ///   - skipping: names of parameters left as they are this step.
    func step(lr: Double, skipping: Set<String>) throws

    /// The state tensors by name, `"<parameter>.<slot>"` (torch's slot names: `momentum_buffer`,
    /// `mu`, `exp_avg`, `exp_avg_sq`, `step`), for a checkpoint together with ``stepCount``.
    /// Slot tensors are the optimizer's own buffers, which the next step overwrites: download or
    /// copy them before stepping again.
    var state: [(name: String, tensor: Tensor)] { get throws }

    /// Replaces the state with copies of `state`'s tensors (every name of ``state`` once, with its
    /// shape, on this optimizer's backend) and sets ``stepCount``; the next step is then the one
    /// the exporting optimizer would have taken. Throws, changing nothing, on a missing, unknown,
    /// repeated or mis-shaped entry.
    func restore(state: [(name: String, tensor: Tensor)], stepCount: Int) throws
}

extension Optimizer {
    /// One update of every parameter: ``step(lr:skipping:)`` with nothing skipped.
    public func step(lr: Double) throws { try step(lr: lr, skipping: []) }

    /// Sets every parameter's gradient to zero, before a step's backwards add into them
    /// (PyTorch's `optimizer.zero_grad()`).
    public func zeroGradients(on backend: any Backend) throws {
        for p in parameters { try p.zeroGradient(on: backend) }
    }
}

/// Per-parameter state tensors named `"<parameter>.<slot>"`, zeros at the start.
struct OptimizerSlots {
    let backend: any Backend
    let parameters: [Parameter]
    let slots: [String]
    /// `tensors[i][s]`: slot `s` of parameter `i`.
    private(set) var tensors: [[Tensor]]

    /// Checks the list (non-empty, unique names) and allocates zeros for every slot.
    init(parameters: [Parameter], slots: [String], backend: any Backend, op: String) throws {
        guard !parameters.isEmpty else {
            throw SSLError.invalidArgument(op: op, detail: "the parameter list is empty")
        }
        var seen = Set<String>()
        for p in parameters where !seen.insert(p.name).inserted {
            throw SSLError.invalidArgument(op: op, detail: "parameter name '\(p.name)' appears more than once")
        }
        self.backend = backend
        self.parameters = parameters
        self.slots = slots
        self.tensors = try parameters.map { p in try slots.map { _ in try backend.zeros(p.shape) } }
    }

    var entries: [(name: String, tensor: Tensor)] {
        zip(parameters, tensors).flatMap { p, row in zip(slots, row).map { ("\(p.name).\($0)", $1) } }
    }

    /// Checks a step's arguments: the learning rate, and that every skipped name is a parameter.
    func validateStep(lr: Double, skipping: Set<String>, op: String) throws {
        try OptimizerReference.validateLearningRate(lr, op: op)
        let unknown = skipping.subtracting(parameters.map(\.name))
        guard unknown.isEmpty else {
            throw SSLError.invalidArgument(op: op, detail: "cannot skip unknown parameters \(unknown.sorted())")
        }
    }

    /// `state` by name, once checked against the slots: every slot's entry present once with
    /// its parameter's shape, plus the `extraScalars` the optimizer reads itself (shape `[]`),
    /// and nothing else. Changes nothing; ``replace(from:)`` then installs the entries.
    func checked(_ state: [(name: String, tensor: Tensor)], extraScalars extra: [String], stepCount: Int,
                 op: String) throws -> [String: Tensor] {
        guard stepCount >= 0 else {
            throw SSLError.invalidArgument(op: op, detail: "the step count must be non-negative, got \(stepCount)")
        }
        var byName: [String: Tensor] = [:]
        for (name, tensor) in state {
            guard byName.updateValue(tensor, forKey: name) == nil else {
                throw SSLError.invalidArgument(op: op, detail: "state entry '\(name)' appears more than once")
            }
        }
        let expected = entries.map { ($0.name, $0.tensor.shape) } + extra.map { ($0, [Int]()) }
        for (name, shape) in expected {
            guard let tensor = byName[name] else {
                throw SSLError.invalidArgument(op: op, detail: "state entry '\(name)' is missing")
            }
            guard tensor.shape == shape else {
                throw SSLError.shapeMismatch(op: op, detail: "state entry '\(name)' has shape \(tensor.shape) but must have \(shape)")
            }
        }
        let unknown = Set(byName.keys).subtracting(expected.map(\.0))
        guard unknown.isEmpty else {
            throw SSLError.invalidArgument(op: op, detail: "unknown state entries \(unknown.sorted())")
        }
        return byName
    }

    /// Replaces every slot with a copy of its entry in a ``checked(_:extraScalars:stepCount:op:)``
    /// result; all copies are made before any slot is replaced.
    mutating func replace(from byName: [String: Tensor]) throws {
        tensors = try zip(parameters, tensors).map { p, row in
            try zip(slots, row).map { slot, _ in try backend.copy(byName["\(p.name).\(slot)"]!) }
        }
    }
}

extension Parameter {
    /// This parameter's weight decay: 0 for a bias or normalisation parameter when those are excluded.
    func weightDecay(_ weightDecay: Double, excludingBiasAndNorm exclude: Bool) -> Double {
        exclude && isBiasOrNorm ? 0 : weightDecay
    }
}
