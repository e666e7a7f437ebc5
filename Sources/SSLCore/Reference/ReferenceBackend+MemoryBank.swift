// Reference memory bank: Float tensors through the Double reference in Losses/MemoryBank.swift.

extension ReferenceBackend {
    public func memoryBank(z: Tensor, indices: [Int], bank: Tensor, temperature: Float, negatives: Int?,
                           seed: UInt64, normalizer: Tensor?, momentum: Float) throws -> MemoryBankResult {
        let op = "memoryBank"
        let (n, d, b) = try MemoryBankReference.validate(
            z: z.shape, indices: indices, bank: bank.shape, temperature: temperature, negatives: negatives,
            normalizer: normalizer?.shape, momentum: momentum)
        try HostMemory.require([n, negatives.map { $0 + 1 } ?? b], bytesPerValue: 8,
                               what: "the memory bank's probabilities (N \(n), bank \(b), negatives \(negatives.map(String.init) ?? "all"))")
        let scored = negatives.map {
            MemoryBankReference.sampleNegatives(indices: indices, negatives: $0, bankSize: b, seed: seed)
        }
        let r = MemoryBankReference.forward(
            z: try values(z, op: op).map(Double.init), indices: indices, bank: try values(bank, op: op).map(Double.init),
            n: n, d: d, bankSize: b, temperature: Double(temperature), scored: scored,
            normalizer: try normalizer.map { Double(try values($0, op: op)[0]) }, momentum: Double(momentum))
        return MemoryBankResult(
            loss: make([Float(r.loss)], []), dZ: make(MemoryBankReference.backward(r.cache).map(Float.init), [n, d]),
            bankNext: make(r.bankNext.map(Float.init), [b, d]), normalizer: r.normalizer.map { make([Float($0)], []) })
    }
}
