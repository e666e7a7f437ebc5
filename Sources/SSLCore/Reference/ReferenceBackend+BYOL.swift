// Reference BYOL: Float ↔ Double around BYOLReference (Sources/SSLCore/Losses/BYOL.swift).

extension ReferenceBackend {
    public func byol(p: Tensor, z: Tensor) throws -> BYOLResult {
        let (n, d) = try BYOLReference.validate(p: p.shape, z: z.shape)
        let (loss, cache) = BYOLReference.forward(p: try values(p, op: "byol").map(Double.init),
                                                  z: try values(z, op: "byol").map(Double.init), n: n, d: d)
        return BYOLResult(loss: make([Float(loss)], []), dP: make(BYOLReference.backward(cache).map(Float.init), p.shape))
    }
}
