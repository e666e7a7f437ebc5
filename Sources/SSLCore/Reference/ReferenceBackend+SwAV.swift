// Reference SwAV: Float tensors to Double, SwAVReference, and back.

extension ReferenceBackend {
    public func swav(crops: [Tensor], prototypes: Tensor, epsilon: Float, iterations: Int, temperature: Float,
                     queues: [Tensor]?) throws -> SwAVResult {
        let op = "swav"
        let sizes = try SwAVReference.validate(crops: crops.map(\.shape), prototypes: prototypes.shape,
                                               queues: queues?.map(\.shape), epsilon: epsilon,
                                               iterations: iterations, temperature: temperature)
        let (n, d, k) = (sizes.n, sizes.d, sizes.k)
        try HostMemory.require([crops.count, n, k], bytesPerValue: 8, what: "SwAV's scores of \(crops.count) crops (N \(n), K \(k))")
        let z = try crops.map { try values($0, op: op).map(Double.init) }
        let p = try values(prototypes, op: op).map(Double.init)
        let q = try queues?.map { try values($0, op: op).map(Double.init) }
        let forward = SwAVReference.forward(crops: z, prototypes: p, queues: q, n: n, d: d, k: k,
                                            epsilon: Double(epsilon), iterations: iterations,
                                            temperature: Double(temperature))
        let grads = SwAVReference.backward(dScores: forward.dScores, crops: z, prototypes: p, n: n, d: d, k: k)
        func tensors(_ arrays: [[Double]], _ shape: [Int]) -> [Tensor] { arrays.map { make($0.map(Float.init), shape) } }
        return SwAVResult(loss: make([Float(forward.loss)], []), codes: tensors(forward.codes, [n, k]),
                          scores: tensors(forward.scores, [n, k]), dScores: tensors(forward.dScores, [n, k]),
                          dPrototypes: make(grads.dPrototypes.map(Float.init), [k, d]), dZ: tensors(grads.dZ, [n, d]))
    }

    public func swavQueuePush(_ embeddings: Tensor, into queue: Tensor) throws {
        _ = try SwAVReference.validatePush(embeddings: embeddings.shape, queue: queue.shape)
        let e = try values(embeddings, op: "swavQueuePush")
        guard let storage = queue.hostBuffer else {
            throw SSLError.wrongBackend(op: "swavQueuePush", expected: "the reference backend", found: queue.location)
        }
        storage.values = SwAVReference.queuePush(e, into: storage.values)
    }
}
