// Reference Barlow Twins: Float tensors to Double, BarlowTwinsReference's forward and
// hand-derived backward, and back to Float.

extension ReferenceBackend {
    public func barlowTwins(_ z1: Tensor, _ z2: Tensor, lambda: Float, eps: Float) throws -> BarlowTwinsResult {
        let (n, d) = try BarlowTwinsReference.validate(z1.shape, z2.shape, lambda: lambda, eps: eps)
        let (loss, cache) = BarlowTwinsReference.forward(
            z1: try values(z1, op: "barlowTwins").map(Double.init), z2: try values(z2, op: "barlowTwins").map(Double.init),
            n: n, d: d, lambda: Double(lambda), eps: Double(eps))
        let (dZ1, dZ2) = BarlowTwinsReference.backward(cache)
        return BarlowTwinsResult(loss: make([Float(loss)], []), c: make(cache.c.map(Float.init), [d, d]),
                                 dZ1: make(dZ1.map(Float.init), [n, d]), dZ2: make(dZ2.map(Float.init), [n, d]))
    }
}
