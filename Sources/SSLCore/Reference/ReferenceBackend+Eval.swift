// Reference evaluation ops: EvalReference's Double definitions on the host values.

extension ReferenceBackend {
    public func topK(_ scores: Tensor, k: Int, columnOffset: Int, merging running: TopKResult?) throws -> TopKResult {
        let (rows, cols) = try EvalReference.validateTopK(scores.shape, k: k, columnOffset: columnOffset, running: running)
        let previous = try running.map { (try values($0.values, op: "topK"), try values($0.indices, op: "topK")) }
        let r = EvalReference.topK(scores: try values(scores, op: "topK"), rows: rows, cols: cols, k: k,
                                   columnOffset: columnOffset, running: previous)
        return try TopKResult(values: make(r.values, [rows, k]), indices: make(r.indices, [rows, k]))
    }

    public func similarityTopK(_ queries: Tensor, _ keys: Tensor, k: Int, columnOffset: Int,
                               merging running: TopKResult?) throws -> TopKResult {
        _ = try EvalReference.validateSimilarityTopK(queries.shape, keys.shape, k: k, columnOffset: columnOffset, running: running)
        return try topK(try matmul(queries, keys, transposeB: true), k: k, columnOffset: columnOffset, merging: running)
    }

    public func knnVotes(_ neighbours: TopKResult, labels: [Int], classes: Int, temperature: Float) throws -> KNNVotesResult {
        try EvalReference.validateVotes(neighbours, labels: labels, classes: classes, temperature: temperature)
        try HostMemory.require([neighbours.rows, classes], bytesPerValue: 8, what: "kNN votes (\(neighbours.rows) rows, \(classes) classes)")
        let r = EvalReference.knnVotes(values: try values(neighbours.values, op: "knnVotes"),
                                       indices: try values(neighbours.indices, op: "knnVotes"),
                                       rows: neighbours.rows, k: neighbours.k, labels: labels, classes: classes,
                                       temperature: Double(temperature))
        return KNNVotesResult(votes: make(r.votes.map(Float.init), [neighbours.rows, classes]),
                              predictions: make(r.predictions.map(Float.init), [neighbours.rows]))
    }

    public func pairwiseDistances(_ x: Tensor, _ y: Tensor, metric: DistanceMetric, diagonalOffset: Int?) throws -> Tensor {
        let (r, c, d) = try EvalReference.validateDistances(x.shape, y.shape)
        try HostMemory.require([r, c], bytesPerValue: 8, what: "pairwise distances (\(r) × \(c))")
        let out = EvalReference.pairwiseDistances(x: try values(x, op: "pairwiseDistances").map(Double.init),
                                                  y: try values(y, op: "pairwiseDistances").map(Double.init),
                                                  r: r, c: c, d: d, metric: metric, diagonalOffset: diagonalOffset)
        return make(out.map(Float.init), [r, c])
    }

    public func silhouetteSamples(_ sums: Tensor, labels: [Int], clusterSizes: [Int]) throws -> Tensor {
        let (r, l) = try EvalReference.validateSilhouette(sums.shape, labels: labels, clusterSizes: clusterSizes)
        let s = EvalReference.silhouetteSamples(sums: try values(sums, op: "silhouetteSamples").map(Double.init),
                                                r: r, l: l, labels: labels, clusterSizes: clusterSizes)
        return make(s.map(Float.init), [r])
    }

    public func nearestByClass(_ distances: Tensor, rowLabels: [Int], columnLabels: [Int], diagonalOffset: Int?,
                               merging running: NearestByClass?) throws -> NearestByClass {
        let op = "nearestByClass"
        let (r, c) = try EvalReference.validateNearestByClass(distances.shape, rowLabels: rowLabels, columnLabels: columnLabels,
                                                              running: running)
        let previous = try running.map { (try values($0.own, op: op), try values($0.other, op: op)) }
        let m = EvalReference.nearestByClass(distances: try values(distances, op: op), r: r, c: c, rowLabels: rowLabels,
                                             columnLabels: columnLabels, diagonalOffset: diagonalOffset, running: previous)
        return try NearestByClass(own: make(m.own, [r]), other: make(m.other, [r]))
    }
}
