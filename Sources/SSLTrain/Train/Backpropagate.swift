// The usual body of a method's step: the views through a network, a loss on the outputs, and
// the backwards with the loss's gradients, in reverse order.
import SSLCore

/// How a step runs several views through one network.
public enum ViewBatching: Sendable {
    /// One forward per view, as the official BYOL, SimSiam, Barlow Twins and VICReg code:
    /// batch norm normalises each view's rows apart.
    case perView
    /// The consecutive views of one size as one batch, as google-research/simclr's `tf.concat`
    /// and the `MultiCropWrapper` of SwAV and DINO: batch norm normalises them together
    /// (``JointForward``).
    case joint
}

/// Runs `views` through `network`, hands `loss` every view's output gathered over `group` (the
/// whole global batch, rank by rank) and runs the backwards with the gradients it returns, one
/// per view, last view first; parameter gradients add up. Returns the loss.
///
/// This is a method's whole ``Objective/step(_:_:)`` when one network sees every view:
///
/// ```swift
/// let loss = try backpropagate(views, through: [encoder, projector], on: backend) { z in
///     let r = try backend.ntXent(z[0], z[1], temperature: 0.1)
///     return (r.loss, [r.dZ1, r.dZ2])
/// }
/// ```
/// - Parameters:
///   - views: view k of every sample of the batch as `views[k]`.
///   - network: the layers every view runs through, in order.
///   - batching: per view (the default) or as joint batches.
///   - group: the data-parallel ranks whose outputs the loss sees together.
///   - backend: the tensors' backend.
///   - loss: the loss and ∂L/∂output for each view, each of its output's shape.
@discardableResult
public func backpropagate(_ views: [Tensor], through network: [any Layer], batching: ViewBatching = .perView,
                          group: DataParallel = .local(), on backend: any Backend,
                          loss: ([Tensor]) throws -> (loss: Tensor, gradients: [Tensor])) throws -> Tensor {
    guard !views.isEmpty else { throw SSLError.invalidArgument(op: "backpropagate", detail: "no views") }
    func checked(_ gradients: [Tensor], of outputs: [Tensor]) throws -> [Tensor] {
        guard gradients.count == outputs.count else {
            throw SSLError.invalidArgument(op: "backpropagate", detail: "the loss returned \(gradients.count) gradients "
                                           + "for \(outputs.count) views")
        }
        for (k, (g, z)) in zip(gradients, outputs).enumerated() where g.shape != z.shape {
            throw SSLError.shapeMismatch(op: "backpropagate", detail: "the gradient of view \(k) is \(g.shape), its output \(z.shape)")
        }
        return try gradients.map { try group.gatherBackward($0, on: backend) }
    }
    switch batching {
    case .perView:
        let runs = try views.map { try network.forward($0) }
        let outputs = try runs.map { try group.gatherRows($0.output, on: backend) }
        let r = try loss(outputs)
        for (run, dY) in zip(runs, try checked(r.gradients, of: outputs)).reversed() { try network.backwardParameters(run.caches, dY) }
        return r.loss
    case .joint:
        let joint = JointForward(backbone: network, head: [])
        let (local, cache) = try joint.forward(views, on: backend)
        let outputs = try local.map { try group.gatherRows($0, on: backend) }
        let r = try loss(outputs)
        try joint.backward(cache, try checked(r.gradients, of: outputs), on: backend)
        return r.loss
    }
}
