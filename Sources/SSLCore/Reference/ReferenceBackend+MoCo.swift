// Reference MoCo: Float tensors through the Double reference in Losses/MoCo.swift.

extension ReferenceBackend {
    public func moco(q: Tensor, k: Tensor, queue: Tensor, temperature: Float) throws -> MoCoResult {
        let (n, d, kCount) = try MoCoReference.validate(q: q.shape, k: k.shape, queue: queue.shape, temperature: temperature)
        try HostMemory.require([n, kCount + 1], bytesPerValue: 8, what: "MoCo's N×(1+K) logits (N \(n), K \(kCount))")
        let (loss, cache) = MoCoReference.forward(
            q: try values(q, op: "moco").map(Double.init), k: try values(k, op: "moco").map(Double.init),
            queue: try values(queue, op: "moco").map(Double.init), n: n, d: d, queueSize: kCount,
            temperature: Double(temperature))
        return MoCoResult(loss: make([Float(loss)], []), dQ: make(MoCoReference.backward(cache).map(Float.init), [n, d]))
    }

    public func mocoEnqueue(keys: Tensor, into queue: Tensor, at pointer: Int) throws -> Int {
        let (n, d, kCount) = try MoCoReference.validateEnqueue(keys: keys.shape, queue: queue.shape, pointer: pointer)
        let keyValues = try values(keys, op: "mocoEnqueue").map(Double.init)
        guard let storage = queue.hostBuffer else {
            throw SSLError.wrongBackend(op: "mocoEnqueue", expected: "the reference backend", found: queue.location)
        }
        var rows = storage.values.map(Double.init)
        let next = MoCoReference.enqueue(keys: keyValues, into: &rows, n: n, d: d, queueSize: kCount, at: pointer)
        storage.values = rows.map(Float.init)
        return next
    }
}
