// Reference optimizer updates: OptimizerReference's Double formulas on the float32 values of the
// tensors, written back in place.

extension ReferenceBackend {
    public func sgdUpdate(_ parameter: Tensor, gradient: Tensor, momentumBuffer: Tensor, lr: Double,
                          options: SGDOptions) throws {
        let op = "sgdUpdate"
        try OptimizerReference.validateUpdate(op: op, parameter: parameter, gradient: gradient,
                                              state: [("momentum buffer", momentumBuffer)], lr: lr)
        try options.validate(op: op)
        let g = try doubles(gradient, op: op)
        let b = try hostBuffers([parameter, momentumBuffer], op: op)
        var p = b[0].doubles, buffer = b[1].doubles
        OptimizerReference.sgd(p: &p, g: g, buffer: &buffer, lr: lr, options: options)
        b[0].store(p)
        b[1].store(buffer)
    }

    public func larsUpdate(_ parameter: Tensor, gradient: Tensor, momentumBuffer: Tensor, lr: Double,
                           options: LARSOptions, adapt: Bool) throws {
        let op = "larsUpdate"
        try OptimizerReference.validateUpdate(op: op, parameter: parameter, gradient: gradient,
                                              state: [("momentum buffer", momentumBuffer)], lr: lr)
        try options.validate(op: op)
        let g = try doubles(gradient, op: op)
        let b = try hostBuffers([parameter, momentumBuffer], op: op)
        var p = b[0].doubles, buffer = b[1].doubles
        OptimizerReference.lars(p: &p, g: g, buffer: &buffer, lr: lr, options: options, adapt: adapt)
        b[0].store(p)
        b[1].store(buffer)
    }

    public func adamWUpdate(_ parameter: Tensor, gradient: Tensor, firstMoment: Tensor, secondMoment: Tensor,
                            lr: Double, step: Int, options: AdamWOptions) throws {
        let op = "adamWUpdate"
        try OptimizerReference.validateUpdate(op: op, parameter: parameter, gradient: gradient,
                                              state: [("first moment", firstMoment), ("second moment", secondMoment)], lr: lr)
        try options.validate(op: op)
        try OptimizerReference.validateAdamWStep(step, op: op)
        let g = try doubles(gradient, op: op)
        let b = try hostBuffers([parameter, firstMoment, secondMoment], op: op)
        var p = b[0].doubles, m = b[1].doubles, v = b[2].doubles
        OptimizerReference.adamW(p: &p, g: g, m: &m, v: &v, lr: lr, step: step, options: options)
        b[0].store(p)
        b[1].store(m)
        b[2].store(v)
    }

    public func globalNorm(_ tensors: [Tensor]) throws -> Tensor {
        make([Float(OptimizerReference.norm(try tensors.map { try doubles($0, op: "globalNorm") }))], [])
    }

    public func clipGlobalNorm(_ tensors: [Tensor], maxNorm: Double) throws -> Tensor {
        let op = "clipGlobalNorm"
        try OptimizerReference.validateMaxNorm(maxNorm, op: op)
        let buffers = try hostBuffers(tensors, op: op)
        let norm = OptimizerReference.norm(buffers.map(\.doubles))
        let c = OptimizerReference.clipCoefficient(norm: norm, maxNorm: maxNorm)
        if c < 1 {
            for buffer in buffers { buffer.store(buffer.doubles.map { $0 * c }) }
        }
        return make([Float(norm)], [])
    }

    // MARK: - Helpers

    private func doubles(_ tensor: Tensor, op: String) throws -> [Double] {
        try values(tensor, op: op).map(Double.init)
    }

    /// The tensors' storage, once every tensor is known to live on this backend (so a
    /// wrong-backend error writes nothing).
    private func hostBuffers(_ tensors: [Tensor], op: String) throws -> [HostBuffer] {
        try tensors.map { tensor in
            guard let buffer = tensor.hostBuffer else {
                throw SSLError.wrongBackend(op: op, expected: "the reference backend", found: tensor.location)
            }
            return buffer
        }
    }
}

extension HostBuffer {
    fileprivate var doubles: [Double] { values.map(Double.init) }
    fileprivate func store(_ x: [Double]) { values = x.map(Float.init) }
}
