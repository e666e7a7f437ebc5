// Reference VICReg: Float tensors to Double, VICRegReference's forward and hand-derived
// backward (the definition, or the Gram form when asked for), and back to Float.

extension ReferenceBackend {
    /// ``RedundancyForm/automatic`` is the definition here, through K, whatever N and D: this
    /// backend is the ground truth. ``RedundancyForm/gram`` runs the Double Gram form.
    public func vicreg(_ z1: Tensor, _ z2: Tensor, simCoeff: Float, stdCoeff: Float, covCoeff: Float,
                       form: RedundancyForm) throws -> VICRegResult {
        let (n, d) = try VICRegReference.validate(z1.shape, z2.shape, simCoeff: simCoeff, stdCoeff: stdCoeff,
                                                  covCoeff: covCoeff)
        try HostMemory.require(form == .gram ? [n, n] : [d, d], bytesPerValue: 8,
                               what: form == .gram ? "VICReg's N×N Gram matrices (N \(n))" : "VICReg's D×D covariance (D \(d))")
        let coefficients = VICRegReference.Coefficients(sim: Double(simCoeff), std: Double(stdCoeff), cov: Double(covCoeff))
        let a = try values(z1, op: "vicreg").map(Double.init), b = try values(z2, op: "vicreg").map(Double.init)
        let (loss, parts, cache) = VICRegReference.forward(z1: a, z2: b, n: n, d: d, coefficients: coefficients, form: form)
        let dZ = VICRegReference.backward(cache)
        return VICRegResult(loss: make([Float(loss)], []), parts: make(parts.map(Float.init), [3]),
                            dZ1: make(dZ.dZ1.map(Float.init), [n, d]), dZ2: make(dZ.dZ2.map(Float.init), [n, d]),
                            form: form == .gram ? .gram : .feature)
    }
}
