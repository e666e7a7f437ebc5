// DeepCluster on the device: k-means by GEMM distances, an arg-min kernel, one-hot GEMM centroid
// sums, a divide and the empty-cluster split (Kernels/clustering.cl); the loss by soft cross-entropy
// on one-hot labels. The host only draws the initial rows and reads the assignments at the end.

extension OpenCLBackend {
    /// Rows per block of the k-means, so that a block's distance and one-hot matrices
    /// `(rows, K)` stay at 2²² floats (16 MiB) whatever N is.
    static let kmeansBlockElements = 1 << 22

    public func kmeans(_ x: Tensor, k: Int, iterations: Int, seed: UInt64) throws -> KMeansResult {
        let op = "kmeans"
        let (n, d) = try KMeansReference.validate(x: x.shape, k: k, iterations: iterations)
        let rows = try uploadIndices(KMeansReference.initialRows(n: n, k: k, seed: seed), op: op)
        let initial = try empty([k, d])
        try launchElements("gather_rows", in: .clustering, count: k * d, arguments: [
            try arg(x, op), .buffer(rows), try arg(initial, op), try int32(k, op), try int32(d, op),
        ])
        return try kmeans(x, initialCentroids: initial, iterations: iterations)
    }

    public func kmeans(_ x: Tensor, initialCentroids: Tensor, iterations: Int) throws -> KMeansResult {
        try kmeans(x, initialCentroids: initialCentroids, iterations: iterations, blockRows: nil)
    }

    /// The k-means with an explicit block size (the tests use small blocks to cover the blocking).
    func kmeans(_ x: Tensor, initialCentroids: Tensor, iterations: Int, blockRows: Int?) throws -> KMeansResult {
        let op = "kmeans"
        let (n, d, k) = try KMeansReference.validate(x: x.shape, initialCentroids: initialCentroids.shape,
                                                     iterations: iterations)
        let kCount = try int32(k, op), dCount = try int32(d, op)
        let block = min(n, max(1, blockRows ?? Self.kmeansBlockElements / k))
        // Row blocks of x, copied once: (first row, rows, block).
        let blocks: [(start: Int, rows: Int, x: Tensor)] = try stride(from: 0, to: n, by: block).map { start in
            let rows = min(block, n - start)
            guard rows < n else { return (0, n, x) }
            let xb = try empty([rows, d])
            try copyRows(x, rows: start..<(start + rows), into: xb, at: 0, op: op)
            return (start, rows, xb)
        }
        let xNorms = try rowSquaredNorms(x, op: op)
        let assignments = try indexBuffer(count: n, op: op)
        let distances = try empty([n])
        var centroids = try copy(initialCentroids)

        // a_n = argmin_k ‖c_k‖² − 2 x_n·c_k, one GEMM per block.
        func assign() throws {
            let cNorms = try rowSquaredNorms(centroids, op: op)
            for b in blocks {
                let gram = try matmul(b.x, centroids, transposeB: true)
                try launchArgmax("kmeans_assign", groups: b.rows, length: k, arguments: [
                    try arg(gram, op), try arg(cNorms, op), try arg(xNorms, op), .buffer(assignments),
                    try arg(distances, op), kCount, try int32(b.start, op),
                ])
            }
        }

        for _ in 0..<iterations {
            try assign()
            // Sums Aᵀ X and counts Σ_n A_nk of the one-hot assignments A, block by block.
            let sums = try zeros([k, d]), counts = try zeros([k])
            for b in blocks {
                let a = try oneHot(assignments, rows: b.rows, k: k, rowOffset: b.start, op: op)
                try gemm(a, b.x, transposeA: true, transposeB: false, alpha: 1, beta: 1, into: sums)
                try axpby(try sum(a, axis: 0), alpha: 1, beta: 1, into: counts)
            }
            let next = try empty([k, d])
            try launchElements("kmeans_divide", in: .clustering, count: k * d, arguments: [
                try arg(sums, op), try arg(counts, op), try arg(next, op), kCount, dCount,
            ])
            try launchArgmax("kmeans_split", groups: 1, length: max(k, d), arguments: [
                try arg(next, op), try arg(counts, op), kCount, dCount,
            ])
            centroids = next
        }
        try assign()
        return KMeansResult(centroids: centroids, assignments: try downloadIndices(assignments, count: n),
                            inertia: try sum(distances, axis: 0))
    }

    public func deepClusterLoss(logits: Tensor, labels: [Int]) throws -> CrossEntropyResult {
        try pseudoLabelCrossEntropy(logits, labels, op: "deepClusterLoss")
    }

    /// DeepCluster's and SeLA's cross-entropy on integer labels: one-hot targets at scale 1.
    func pseudoLabelCrossEntropy(_ logits: Tensor, _ labels: [Int], op: String) throws -> CrossEntropyResult {
        let (n, k) = try PseudoLabelCrossEntropy.validate(logits: logits.shape, labels: labels, op: op)
        let targets = try oneHot(try uploadIndices(labels, op: op), rows: n, k: k, op: op)
        return try softCrossEntropy(logits, targets: targets, scale: 1)
    }
}
