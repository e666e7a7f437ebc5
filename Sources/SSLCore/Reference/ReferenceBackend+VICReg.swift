// Reference VICReg: Float tensors to Double, VICRegReference's forward and hand-derived
// backward, and back to Float.

extension ReferenceBackend {
    public func vicreg(_ z1: Tensor, _ z2: Tensor, simCoeff: Float, stdCoeff: Float,
                       covCoeff: Float) throws -> VICRegResult {
        let (n, d) = try VICRegReference.validate(z1.shape, z2.shape, simCoeff: simCoeff, stdCoeff: stdCoeff,
                                                  covCoeff: covCoeff)
        let coefficients = VICRegReference.Coefficients(sim: Double(simCoeff), std: Double(stdCoeff), cov: Double(covCoeff))
        let (loss, parts, cache) = VICRegReference.forward(
            z1: try values(z1, op: "vicreg").map(Double.init), z2: try values(z2, op: "vicreg").map(Double.init),
            n: n, d: d, coefficients: coefficients)
        let (dZ1, dZ2) = VICRegReference.backward(cache)
        return VICRegResult(loss: make([Float(loss)], []), parts: make(parts.map(Float.init), [3]),
                            dZ1: make(dZ1.map(Float.init), [n, d]), dZ2: make(dZ2.map(Float.init), [n, d]))
    }
}
