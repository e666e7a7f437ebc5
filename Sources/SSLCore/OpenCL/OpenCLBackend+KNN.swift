// Similarity top-k for weighted kNN (Kernels/knn.cl): the query × key similarities reduced to
// each query row's k best without the similarity matrix in device memory, or GEMM then top-k.

/// How ``OpenCLBackend`` runs ``EvalOps/similarityTopK(_:_:k:columnOffset:merging:)``.
public enum KNNVariant: String, CaseIterable, Sendable {
    /// Tiles of similarities computed and folded into per-row top-k lists in one kernel; the
    /// splits of the key columns leave (splits, R, k) partial lists, merged by a second kernel.
    case fused
    /// The device's GEMM (``GemmVariant``) into an (R, C) matrix, then ``EvalOps/topK(_:k:columnOffset:merging:)``.
    case unfused
}

/// The tile shape of `knn_topk_tiles` (its `-D` build options).
struct KNNTiles: Equatable, CustomStringConvertible {
    /// Query rows and key columns per tile, features per local-memory slice.
    let rows: Int, columns: Int, depth: Int
    /// Rows and columns of each work-item's micro-tile.
    let rowsPerItem: Int, columnsPerItem: Int
    /// Entrants per row and insertion round.
    let bucket: Int

    /// 128 × 128 tiles, 8 × 8 per work-item, 256 work-items: CLBlast's shape for large SGEMMs on
    /// NVIDIA; its lists fit 48 KiB of local memory up to k = 31. Tested, not chosen: its registers
    /// cap occupancy (see ``OpenCLBackend/knnTiles(k:)``) until a GPU measures it faster.
    static let large = KNNTiles(rows: 128, columns: 128, depth: 16, rowsPerItem: 8, columnsPerItem: 8, bucket: 8)
    /// 64 × 64 tiles, 4 × 4 per work-item, 256 work-items: up to k = 79 in 48 KiB.
    static let small = KNNTiles(rows: 64, columns: 64, depth: 16, rowsPerItem: 4, columnsPerItem: 4, bucket: 8)
    /// 32 × 32 tiles, 4 × 4 per work-item, 64 work-items: for devices that run neither shape above
    /// (groups of 64, as some integrated GPUs allow a register-heavy kernel; up to k = 46 in 16 KiB).
    static let portable = KNNTiles(rows: 32, columns: 32, depth: 16, rowsPerItem: 4, columnsPerItem: 4, bucket: 8)
    /// The splits of the key columns one call may use (the merge kernel's head array).
    static let maxSplits = 64

    var workItems: Int { (rows / rowsPerItem) * (columns / columnsPerItem) }

    var options: String {
        "-DKNN_TM=\(rows) -DKNN_TN=\(columns) -DKNN_TK=\(depth) -DKNN_WPTM=\(rowsPerItem) "
            + "-DKNN_WPTN=\(columnsPerItem) -DKNN_BUCKET=\(bucket) -DKNN_MAX_SPLITS=\(Self.maxSplits)"
    }

    /// The kernel's local memory at `k`: the two tiles (padded rows, the buckets alias them),
    /// the bucket counts and flag, and the k-lists of every row.
    func localBytes(k: Int) -> Int {
        4 * (depth * (rows + 1) + depth * (columns + 1)) + 4 * (rows + 1) + 8 * rows * k
    }

    var description: String { "\(rows)x\(columns)x\(depth) tiles, \(rowsPerItem)x\(columnsPerItem) per work-item" }
}

extension OpenCLBackend {
    public func similarityTopK(_ queries: Tensor, _ keys: Tensor, k: Int, columnOffset: Int,
                               merging running: TopKResult?) throws -> TopKResult {
        _ = try EvalReference.validateSimilarityTopK(queries.shape, keys.shape, k: k, columnOffset: columnOffset, running: running)
        switch kernels.knn ?? automaticKNNVariant(k: k) {
        case .unfused:
            return try topK(try matmul(queries, keys, transposeB: true), k: k, columnOffset: columnOffset, merging: running)
        case .fused:
            guard let tiles = try knnTiles(k: k) else {
                throw SSLError.invalidArgument(
                    op: "similarityTopK", detail: "the fused kNN keeps k = \(k) entries per row in local memory, "
                        + "more than \(device.name)'s \(device.localMemoryBytes) bytes hold for tiles its work-groups "
                        + "run; use KNNVariant.unfused")
            }
            return try similarityTopKFused(queries, keys, k: k, columnOffset: columnOffset, merging: running, tiles: tiles)
        }
    }

    /// The version chosen when ``KernelChoices/knn`` is nil: the one a tuning file measured
    /// faster (``TunedPaths/knn``) where its tiles fit, else unfused, the path CLBlast (or the
    /// host BLAS) backs. On PoCL unfused is the faster (60 000 × 2 000 × 256, k 20: 2.0 s against
    /// 6.7 s fused); no GPU has timed the fused kernel yet.
    public func automaticKNNVariant(k: Int) -> KNNVariant {
        paths?.knn == .fused && (try? knnTiles(k: k)) != nil ? .fused : .unfused
    }

    /// The fused kernel's tiles at `k`: the small ones, whose 64–69 registers a work-item leave
    /// NVIDIA sm_80/sm_90 28–32 of 64 warps and AMD gfx90a 8 waves, where the large tiles' 143–156
    /// registers leave 13–14 warps and 3 waves (scripts/kernels-offline.py); the portable ones
    /// where those do not fit; nil where no shape fits.
    func knnTiles(k: Int) throws -> KNNTiles? {
        try [KNNTiles.small, .portable].first { try knnTilesFit($0, k: k) }
    }

    /// Whether `tiles` at `k` fit this device: their lists in its local memory, their work-group
    /// within what the kernel built with them may have here.
    func knnTilesFit(_ tiles: KNNTiles, k: Int) throws -> Bool {
        guard tiles.localBytes(k: k) <= device.localMemoryBytes, tiles.workItems <= device.maxWorkGroupSize else {
            return false
        }
        return try maxGroupSize(try context.kernel("knn_topk_tiles", in: .knn, options: tiles.options)) >= tiles.workItems
    }

    /// The fused kernel with the given tiles (tests run both shapes on any device).
    func similarityTopKFused(_ queries: Tensor, _ keys: Tensor, k: Int, columnOffset: Int,
                             merging running: TopKResult?, tiles: KNNTiles) throws -> TopKResult {
        let op = "similarityTopK"
        let (rows, cols, depth) = try EvalReference.validateSimilarityTopK(queries.shape, keys.shape, k: k,
                                                                           columnOffset: columnOffset, running: running)
        precondition(tiles.rowsPerItem * tiles.columnsPerItem <= 64 && 2 * tiles.rows * tiles.bucket
                     <= tiles.depth * (tiles.rows + tiles.columns + 2), "knn.cl's assumptions on \(tiles)")
        guard try knnTilesFit(tiles, k: k) else {
            throw SSLError.invalidArgument(
                op: op, detail: "the fused kNN's \(tiles) need \(tiles.localBytes(k: k)) bytes of local memory at k = \(k) "
                    + "and work-groups of \(tiles.workItems); \(device.name) has \(device.localMemoryBytes) bytes and "
                    + "groups up to \(device.maxWorkGroupSize) (fewer where a kernel's registers limit them): use KNNVariant.unfused")
        }
        let values = try empty([rows, k]), indices = try empty([rows, k])
        guard rows > 0 else { return try TopKResult(values: values, indices: indices) }
        let kernel = try context.kernel("knn_topk_tiles", in: .knn, options: tiles.options)
        // Split the key columns so that the groups fill the device, each split at least 2 tiles
        // wide so that filling its lists (every score of the first tile enters) stays a small part.
        let rowTiles = (rows + tiles.rows - 1) / tiles.rows
        let columnTiles = max(1, (cols + tiles.columns - 1) / tiles.columns)
        let wanted = (4 * max(device.computeUnits, 1) + rowTiles - 1) / rowTiles
        let splitCount = max(1, min(wanted, KNNTiles.maxSplits, columnTiles / 2))
        let columnsPerSplit = (columnTiles + splitCount - 1) / splitCount * tiles.columns
        let splits = max(1, (cols + columnsPerSplit - 1) / columnsPerSplit)
        let partValues = splits == 1 ? values : try empty([splits, rows, k])
        let partIndices = splits == 1 ? indices : try empty([splits, rows, k])
        let q = try arg(queries, op)
        try context.launch(kernel, name: "knn_topk_tiles", global: [rowTiles * tiles.workItems, splits],
                           local: [tiles.workItems, 1], arguments: [
            q, try arg(keys, op), try int32(rows, op), try int32(cols, op), try int32(depth, op),
            try int32(columnOffset, op), try int32(columnsPerSplit, op),
            try running.map { try arg($0.values, op) } ?? q, try running.map { try arg($0.indices, op) } ?? q,
            .int(running == nil ? 0 : 1), try arg(partValues, op), try arg(partIndices, op), try int32(k, op),
            .local(bytes: tiles.rows * k * 4), .local(bytes: tiles.rows * k * 4),
        ])
        if splits > 1 {
            let merge = try context.kernel("knn_merge_splits", in: .knn, options: tiles.options)
            try context.launch(merge, name: "knn_merge_splits", global: [rows], arguments: [
                try arg(partValues, op), try arg(partIndices, op), try int32(splits, op), try int32(rows, op),
                try int32(k, op), try arg(values, op), try arg(indices, op),
            ])
        }
        return try TopKResult(values: values, indices: indices)
    }
}
