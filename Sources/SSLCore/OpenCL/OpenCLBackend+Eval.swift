// Evaluation ops on OpenCL (Kernels/eval.cl): the merging top-k, the kNN vote, distances as
// CLBlast GEMM plus one element-wise pass, and silhouette values.

extension OpenCLBackend {
    public func topK(_ scores: Tensor, k: Int, columnOffset: Int, merging running: TopKResult?) throws -> TopKResult {
        let op = "topK"
        let (rows, cols) = try EvalReference.validateTopK(scores.shape, k: k, columnOffset: columnOffset, running: running)
        let values = try empty([rows, k]), indices = try empty([rows, k])
        let kernel = try context.kernel("topk_merge", in: .eval)
        // The tile is the work-group: up to 256 scores per step, a power of two for the bitonic sort.
        let local = try groupSize(for: kernel, length: cols)
        // Two k-lists and the tile's values and indices in local memory; where they do not fit
        // (large k on a small device), one work-item a row keeps its list in global memory.
        let localBytes = 2 * (2 * k * 4) + 2 * (local * 4)
        if rowsRunSerially(rows) || localBytes > device.localMemoryBytes {
            let s = try arg(scores, op)
            try launchElements("topk_rows_serial", in: .eval, count: rows, arguments: [
                s, try int32(rows, op), try int32(cols, op), try int32(columnOffset, op),
                try running.map { try arg($0.values, op) } ?? s, try running.map { try arg($0.indices, op) } ?? s,
                .int(running == nil ? 0 : 1), try arg(values, op), try arg(indices, op), try int32(k, op),
            ])
            return try TopKResult(values: values, indices: indices)
        }
        let s = try arg(scores, op)
        try context.launch(kernel, name: "topk_merge", global: [rows * local], local: [local], arguments: [
            s, try int32(cols, op), try int32(columnOffset, op),
            try running.map { try arg($0.values, op) } ?? s, try running.map { try arg($0.indices, op) } ?? s,
            .int(running == nil ? 0 : 1), try arg(values, op), try arg(indices, op), try int32(k, op),
            .local(bytes: 2 * k * 4), .local(bytes: 2 * k * 4), .local(bytes: local * 4), .local(bytes: local * 4),
        ])
        return try TopKResult(values: values, indices: indices)
    }

    public func knnVotes(_ neighbours: TopKResult, labels: [Int], classes: Int, temperature: Float) throws -> KNNVotesResult {
        let op = "knnVotes"
        try EvalReference.validateVotes(neighbours, labels: labels, classes: classes, temperature: temperature)
        let rows = neighbours.rows
        let votes = try empty([rows, classes]), predictions = try empty([rows])
        // An empty label list still needs a buffer to bind; label_count 0 keeps it unread.
        let labelBuffer = KernelArgument.buffer(try uploadIndices(labels.isEmpty ? [0] : labels, op: op))
        try launchElements("knn_votes", in: .eval, count: rows, arguments: [
            try arg(neighbours.values, op), try arg(neighbours.indices, op), labelBuffer, try arg(votes, op),
            try arg(predictions, op), try int32(rows, op), try int32(neighbours.k, op), try int32(classes, op),
            try int32(labels.count, op), .float(Float(1 / Double(temperature))),
        ])
        return KNNVotesResult(votes: votes, predictions: predictions)
    }

    public func pairwiseDistances(_ x: Tensor, _ y: Tensor, metric: DistanceMetric, diagonalOffset: Int?) throws -> Tensor {
        let op = "pairwiseDistances"
        let (r, c, _) = try EvalReference.validateDistances(x.shape, y.shape)
        let distances: Tensor, xSq: Tensor, ySq: Tensor
        switch metric {
        case .euclidean:
            // ‖x − y‖² = ‖x‖² + ‖y‖² − 2 x·y, as scikit-learn's euclidean_distances.
            distances = try matmul(x, y, transposeB: true)
            (xSq, ySq) = (try rowSquaredNorms(x, op: op), try rowSquaredNorms(y, op: op))
        case .cosine:
            // Zero rows stay zero under max(‖x‖, eps) and so sit at distance 1, as sklearn's normalize leaves them.
            distances = try matmul(try l2Normalize(x, eps: 1e-12), try l2Normalize(y, eps: 1e-12), transposeB: true)
            (xSq, ySq) = (distances, distances)  // unread
        }
        try launchElements("distances_from_dots", in: .eval, count: r * c, arguments: [
            try arg(distances, op), try arg(xSq, op), try arg(ySq, op), try int32(r, op), try int32(c, op),
            .int(metric == .euclidean ? 1 : 0), .int(diagonalOffset == nil ? 0 : 1),
            try int32(diagonalOffset.map { max(min($0, Int(Int32.max)), -Int(Int32.max)) } ?? 0, op),
        ])
        return distances
    }

    public func silhouetteSamples(_ sums: Tensor, labels: [Int], clusterSizes: [Int]) throws -> Tensor {
        let op = "silhouetteSamples"
        let (r, l) = try EvalReference.validateSilhouette(sums.shape, labels: labels, clusterSizes: clusterSizes)
        let out = try empty([r])
        try launchElements("silhouette_samples", in: .eval, count: r, arguments: [
            try arg(sums, op), .buffer(try uploadIndices(labels, op: op)), .buffer(try uploadIndices(clusterSizes, op: op)),
            try arg(out, op), try int32(r, op), try int32(l, op),
        ])
        return out
    }

    public func nearestByClass(_ distances: Tensor, rowLabels: [Int], columnLabels: [Int], diagonalOffset: Int?,
                               merging running: NearestByClass?) throws -> NearestByClass {
        let op = "nearestByClass"
        let (r, c) = try EvalReference.validateNearestByClass(distances.shape, rowLabels: rowLabels, columnLabels: columnLabels,
                                                              running: running)
        let own = try empty([r]), other = try empty([r])
        let d = try arg(distances, op)
        try launchElements("nearest_by_class", in: .eval, count: r, arguments: [
            d, .buffer(try uploadIndices(rowLabels, op: op)), .buffer(try uploadIndices(columnLabels, op: op)),
            try running.map { try arg($0.own, op) } ?? d, try running.map { try arg($0.other, op) } ?? d,
            .int(running == nil ? 0 : 1), try arg(own, op), try arg(other, op), try int32(r, op), try int32(c, op),
            .int(diagonalOffset == nil ? 0 : 1),
            try int32(diagonalOffset.map { max(min($0, Int(Int32.max)), -Int(Int32.max)) } ?? 0, op),
        ])
        return try NearestByClass(own: own, other: other)
    }
}
