// Reference NT-Xent: Float tensors through the Double reference in Losses/NTXent.swift.

extension ReferenceBackend {
    /// The definition whatever `algorithm` asks: the algorithms differ only in how a device
    /// schedules the same arithmetic.
    public func ntXent(_ z1: Tensor, _ z2: Tensor, temperature: Float,
                       algorithm: NTXentAlgorithm) throws -> NTXentResult {
        let (n, d) = try NTXentReference.validate(z1.shape, z2.shape, temperature: temperature)
        try HostMemory.require([2 * n, 2 * n], bytesPerValue: 8, what: "NT-Xent's 2N×2N similarities (N \(n))")
        let (loss, cache) = NTXentReference.forward(
            z1: try values(z1, op: "ntXent").map(Double.init), z2: try values(z2, op: "ntXent").map(Double.init),
            n: n, d: d, temperature: Double(temperature))
        let (dZ1, dZ2) = NTXentReference.backward(cache)
        return NTXentResult(loss: make([Float(loss)], []), dZ1: make(dZ1.map(Float.init), [n, d]),
                            dZ2: make(dZ2.map(Float.init), [n, d]), algorithm: .automatic)
    }
}
