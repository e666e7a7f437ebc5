// Optimizer updates on the device (Kernels/optim.cl): element-wise SGD and AdamW kernels; LARS
// and the global norm as partial sums of squares per work-group, one finishing group per norm,
// then the element-wise kernel that reads the norms, all on the one in-order queue.

extension OpenCLBackend {
    /// Work-groups of the partial-norm kernels: enough to spread a large tensor over a GPU's
    /// compute units, few enough that one group finishes the sum. Fixed, so the summation order
    /// (and so the float32 result) depends only on the tensor and the local size.
    static let normGroups = 64

    public func sgdUpdate(_ parameter: Tensor, gradient: Tensor, momentumBuffer: Tensor, lr: Double,
                          options: SGDOptions) throws {
        let op = "sgdUpdate"
        try OptimizerReference.validateUpdate(op: op, parameter: parameter, gradient: gradient,
                                              state: [("momentum buffer", momentumBuffer)], lr: lr)
        try options.validate(op: op)
        let arguments = try [arg(parameter, op), arg(gradient, op), arg(momentumBuffer, op), int32(parameter.count, op)]
        guard parameter.count > 0 else { return }
        try launchElements("sgd_update", in: .optim, count: parameter.count, arguments: arguments + [
            .float(Float(lr)), .float(Float(options.momentum)), .float(Float(options.weightDecay)),
            .int(options.nesterov ? 1 : 0),
        ])
    }

    public func larsUpdate(_ parameter: Tensor, gradient: Tensor, momentumBuffer: Tensor, lr: Double,
                           options: LARSOptions, adapt: Bool) throws {
        let op = "larsUpdate"
        try OptimizerReference.validateUpdate(op: op, parameter: parameter, gradient: gradient,
                                              state: [("momentum buffer", momentumBuffer)], lr: lr)
        try options.validate(op: op)
        let p = try arg(parameter, op), g = try arg(gradient, op), mu = try arg(momentumBuffer, op)
        let count = try int32(parameter.count, op)
        guard parameter.count > 0 else { return }
        guard adapt else {
            // Without the trust ratio the update is SGD's (no Nesterov): mu = μ·mu + dp; p −= lr·mu.
            return try sgdUpdate(parameter, gradient: gradient, momentumBuffer: momentumBuffer, lr: lr,
                                 options: SGDOptions(momentum: options.momentum, weightDecay: options.weightDecay))
        }
        let wd = Float(options.weightDecay)
        let groups = Self.groupCount(for: parameter.count), partials = try empty([2, groups])
        try launchPartials("lars_partials", count: parameter.count, groups: groups,
                           arguments: [p, g, count, .float(wd), try arg(partials, op)])
        let norms = try finishNorms(partials, op: op)  // (‖p‖, ‖dp‖)
        try launchElements("lars_update", in: .optim, count: parameter.count, arguments: [
            p, g, mu, count, .float(Float(lr)), .float(Float(options.momentum)), .float(wd), .float(Float(options.eta)),
            try arg(norms, op),
        ])
    }

    public func adamWUpdate(_ parameter: Tensor, gradient: Tensor, firstMoment: Tensor, secondMoment: Tensor,
                            lr: Double, step: Int, options: AdamWOptions) throws {
        let op = "adamWUpdate"
        try OptimizerReference.validateUpdate(op: op, parameter: parameter, gradient: gradient,
                                              state: [("first moment", firstMoment), ("second moment", secondMoment)], lr: lr)
        try options.validate(op: op)
        try OptimizerReference.validateAdamWStep(step, op: op)
        let arguments = try [arg(parameter, op), arg(gradient, op), arg(firstMoment, op), arg(secondMoment, op),
                             int32(parameter.count, op)]
        guard parameter.count > 0 else { return }
        let (stepSize, bc2Sqrt) = OptimizerReference.adamWCorrections(lr: lr, step: step, options: options)
        try launchElements("adamw_update", in: .optim, count: parameter.count, arguments: arguments + [
            .float(Float(1 - lr * options.weightDecay)), .float(Float(1 - options.beta1)), .float(Float(options.beta2)),
            .float(Float(1 - options.beta2)), .float(Float(options.eps)), .float(Float(stepSize)), .float(Float(bc2Sqrt)),
        ])
    }

    public func globalNorm(_ tensors: [Tensor]) throws -> Tensor {
        try globalNorm(tensors, op: "globalNorm")
    }

    public func clipGlobalNorm(_ tensors: [Tensor], maxNorm: Double) throws -> Tensor {
        let op = "clipGlobalNorm"
        try OptimizerReference.validateMaxNorm(maxNorm, op: op)
        let norm = try globalNorm(tensors, op: op)
        let n = try arg(norm, op)
        for tensor in tensors where tensor.count > 0 {
            try launchElements("clip_scale", in: .optim, count: tensor.count, arguments: [
                try arg(tensor, op), try int32(tensor.count, op), n, .float(Float(maxNorm)),
            ])
        }
        return norm
    }

    // MARK: - Norms

    /// Every tensor's partial sums of squares in one row of partials, then one finishing group.
    private func globalNorm(_ tensors: [Tensor], op: String) throws -> Tensor {
        let arguments = try tensors.map { (try arg($0, op), try int32($0.count, op)) }
        let groups = tensors.map { Self.groupCount(for: $0.count) }
        let total = groups.reduce(0, +)
        guard total > 0 else { return try zeros([]) }
        let partials = try empty([1, total])
        let out = try arg(partials, op)
        var offset = 0
        for (tensor, (x, count)) in zip(tensors, arguments) where tensor.count > 0 {
            let g = Self.groupCount(for: tensor.count)
            try launchPartials("square_partials", count: tensor.count, groups: g,
                               arguments: [x, count, out, try int32(offset, op)])
            offset += g
        }
        return try finishNorms(partials, op: op).reshaped([])
    }

    /// At most ``normGroups`` groups, and no more than there are elements.
    private static func groupCount(for count: Int) -> Int { min(normGroups, count) }

    /// Launches a partial-sum kernel over `groups` work-groups of 2^k work-items.
    private func launchPartials(_ name: String, count: Int, groups: Int, arguments: [KernelArgument]) throws {
        let kernel = try context.kernel(name, in: .optim)
        let local = try groupSize(for: kernel, length: (count + groups - 1) / groups)
        try context.launch(kernel, name: name, global: [groups * local], local: [local],
                           arguments: arguments + [.local(bytes: local * 4)])
    }

    /// `(R, G)` partial sums of squares → `(R)` norms.
    private func finishNorms(_ partials: Tensor, op: String) throws -> Tensor {
        let (rows, groups) = (partials.shape[0], partials.shape[1])
        let norms = try empty([rows])
        try launchRows("norms_finish", in: .optim, rows: rows, length: groups, arguments: [
            try arg(partials, op), try int32(groups, op), try arg(norms, op),
        ])
        return norms
    }
}
