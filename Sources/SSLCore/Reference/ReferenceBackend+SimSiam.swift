// Reference SimSiam: Float ↔ Double around SimSiamReference (Sources/SSLCore/Losses/SimSiam.swift).

extension ReferenceBackend {
    public func simSiam(p1: Tensor, p2: Tensor, z1: Tensor, z2: Tensor) throws -> SimSiamResult {
        let (n, d) = try SimSiamReference.validate(p1: p1.shape, p2: p2.shape, z1: z1.shape, z2: z2.shape)
        let op = "simSiam"
        let (loss, cache) = SimSiamReference.forward(
            p1: try values(p1, op: op).map(Double.init), p2: try values(p2, op: op).map(Double.init), z1: try values(z1, op: op).map(Double.init),
            z2: try values(z2, op: op).map(Double.init), n: n, d: d)
        let (dP1, dP2) = SimSiamReference.backward(cache)
        return SimSiamResult(loss: make([Float(loss)], []), dP1: make(dP1.map(Float.init), p1.shape),
                             dP2: make(dP2.map(Float.init), p2.shape))
    }
}
