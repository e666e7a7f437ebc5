// SwAV on the device: scores by GEMM, codes by the Sinkhorn kernels (queue rows stacked on top by
// buffer copies), swapped prediction by soft cross-entropy, gradients by GEMM. No host round trip.

extension OpenCLBackend {
    public func swav(crops: [Tensor], prototypes: Tensor, epsilon: Float, iterations: Int, temperature: Float,
                     queues: [Tensor]?) throws -> SwAVResult {
        let op = "swav"
        let sizes = try SwAVReference.validate(crops: crops.map(\.shape), prototypes: prototypes.shape,
                                               queues: queues?.map(\.shape), epsilon: epsilon,
                                               iterations: iterations, temperature: temperature)
        let (n, d, k, queueRows) = (sizes.n, sizes.d, sizes.k, sizes.queueRows)
        // s_v = z_v · Pᵀ, (N, K).
        let scores = try crops.map { try matmul($0, prototypes, transposeB: true) }
        // q_i = Sinkhorn([queue_i · Pᵀ; s_i])[-N:] (the official `distributed_sinkhorn(out)[-bs:]`).
        let codes: [Tensor] = try SwAVReference.codeCrops.enumerated().map { i, c in
            guard let queue = queues?[i] else { return try sinkhorn(scores[c], epsilon: epsilon, iterations: iterations) }
            let stacked = try empty([queueRows + n, k])
            try copyRows(try matmul(queue, prototypes, transposeB: true), rows: 0..<queueRows, into: stacked, at: 0, op: op)
            try copyRows(scores[c], rows: 0..<n, into: stacked, at: queueRows, op: op)
            let all = try sinkhorn(stacked, epsilon: epsilon, iterations: iterations)
            let last = try empty([n, k])
            try copyRows(all, rows: queueRows..<(queueRows + n), into: last, at: 0, op: op)
            return last
        }
        // L and dS_v: each (code i, crop v ≠ i) term weighted 1/(2(V − 1)).
        let weight = Float(1 / Double(SwAVReference.codeCrops.count * (crops.count - 1)))
        let loss = try zeros([])
        let dScores = try crops.map { _ in try zeros([n, k]) }
        for (i, c) in SwAVReference.codeCrops.enumerated() {
            for v in crops.indices where v != c {
                let ce = try softCrossEntropy(scores[v], targets: codes[i], scale: Float(1 / Double(temperature)))
                try axpby(ce.loss, alpha: weight, beta: 1, into: loss)
                try axpby(ce.dLogits, alpha: weight, beta: 1, into: dScores[v])
            }
        }
        // dP = Σ_v dS_vᵀ z_v; dZ_v = dS_v P.
        let dPrototypes = try zeros([k, d])
        for (dS, z) in zip(dScores, crops) {
            try gemm(dS, z, transposeA: true, transposeB: false, alpha: 1, beta: 1, into: dPrototypes)
        }
        let dZ = try dScores.map { try matmul($0, prototypes) }
        return SwAVResult(loss: loss, codes: codes, scores: scores, dScores: dScores, dPrototypes: dPrototypes, dZ: dZ)
    }

    public func swavQueuePush(_ embeddings: Tensor, into queue: Tensor) throws {
        let op = "swavQueuePush"
        let (n, q, _) = try SwAVReference.validatePush(embeddings: embeddings.shape, queue: queue.shape)
        // Overlapping copies within one buffer are not allowed: shift through a copy.
        if q > n { try copyRows(try copy(queue), rows: 0..<(q - n), into: queue, at: n, op: op) }
        try copyRows(embeddings, rows: 0..<n, into: queue, at: 0, op: op)
    }
}
