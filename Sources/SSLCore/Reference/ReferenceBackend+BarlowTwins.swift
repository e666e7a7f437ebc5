// Reference Barlow Twins: Float tensors to Double, BarlowTwinsReference's forward and
// hand-derived backward (the definition, or the Gram form when asked for), and back to Float.

extension ReferenceBackend {
    /// ``RedundancyForm/automatic`` is the definition here, through C, whatever N and D: this
    /// backend is the ground truth. ``RedundancyForm/gram`` runs the Double Gram form, with C made
    /// on first read as the OpenCL backend does.
    public func barlowTwins(_ z1: Tensor, _ z2: Tensor, lambda: Float, eps: Float,
                            form: RedundancyForm) throws -> BarlowTwinsResult {
        let (n, d) = try BarlowTwinsReference.validate(z1.shape, z2.shape, lambda: lambda, eps: eps)
        try HostMemory.require(form == .gram ? [n, n] : [d, d], bytesPerValue: 8,
                               what: form == .gram ? "Barlow Twins' N×N Gram matrices (N \(n))" : "Barlow Twins' D×D cross-correlation (D \(d))")
        let a = try values(z1, op: "barlowTwins").map(Double.init), b = try values(z2, op: "barlowTwins").map(Double.init)
        func result(_ loss: Double, _ dZ: (dZ1: [Double], dZ2: [Double]), _ form: RedundancyForm,
                    _ c: LazyTensor) -> BarlowTwinsResult {
            BarlowTwinsResult(loss: make([Float(loss)], []), dZ1: make(dZ.dZ1.map(Float.init), [n, d]),
                              dZ2: make(dZ.dZ2.map(Float.init), [n, d]), form: form, c: c)
        }
        if form == .gram {
            let (loss, cache) = BarlowTwinsReference.gramForward(z1: a, z2: b, n: n, d: d, lambda: Double(lambda),
                                                                 eps: Double(eps))
            return result(loss, BarlowTwinsReference.gramBackward(cache), .gram,
                          LazyTensor { [self] in try crossCorrelation(z1, z2, eps: eps) })
        }
        let (loss, cache) = BarlowTwinsReference.forward(z1: a, z2: b, n: n, d: d, lambda: Double(lambda), eps: Double(eps))
        return result(loss, BarlowTwinsReference.backward(cache), .feature,
                      LazyTensor(make(cache.c.map(Float.init), [d, d])))
    }
}
