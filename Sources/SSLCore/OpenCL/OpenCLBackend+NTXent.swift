// NT-Xent on the device (Kernels/contrastive.cl). Both algorithms normalise the stacked views
// and end with the normalisation's backward; between them (NTXentAlgorithm):
//
// gemm:  one GEMM for the (2N, 2N) similarities, ntxent_rows for the masked softmax
//        cross-entropy and its gradient dS, then dẑ = dS·ẑ + dSᵀ·ẑ as two GEMMs.
// fused: ntxent_fused_forward and ntxent_fused_lse for each row's log-sum-exp and loss, then
//        ntxent_fused_backward for dẑ from recomputed tiles; nothing 2N×2N in global memory.

extension OpenCLBackend {
    public func ntXent(_ z1: Tensor, _ z2: Tensor, temperature: Float,
                       algorithm: NTXentAlgorithm) throws -> NTXentResult {
        let (n, d) = try NTXentReference.validate(z1.shape, z2.shape, temperature: temperature)
        let resolved = algorithm.resolved(rows: 2 * n, maxAllocationBytes: device.maxAllocationBytes,
                                          preferred: paths?.ntXent ?? .gemm)
        return try ntXent(z1, z2, n: n, d: d, temperature: temperature, algorithm: resolved, splits: nil)
    }

    /// - Parameter splits: how many work-groups share each row block's keys in the fused forward
    ///   and backward; nil for ``NTXentFusedTiles/splits(rows:d:computeUnits:)``. Internal so that
    ///   the tests can force one split and many.
    func ntXent(_ z1: Tensor, _ z2: Tensor, n: Int, d: Int, temperature: Float, algorithm: NTXentAlgorithm,
                splits: (forward: Int, backward: Int)?) throws -> NTXentResult {
        let op = "ntXent", rows = 2 * n
        let z = try empty([rows, d])
        try copyRows(z1, rows: 0..<n, into: z, at: 0, op: op)
        try copyRows(z2, rows: 0..<n, into: z, at: n, op: op)
        let eps = ContrastiveRules.normalizeEps
        let zHat = try l2Normalize(z, eps: eps)
        let (rowLoss, dZHat) = algorithm == .gemm
            ? try ntXentGEMM(zHat, n: n, temperature: temperature)
            : try ntXentFused(zHat, n: n, d: d, temperature: temperature,
                              splits: splits ?? NTXentFusedTiles.splits(rows: rows, d: d, computeUnits: device.computeUnits,
                                                                        localMemoryBytes: device.localMemoryBytes))
        let dZ = try l2NormalizeBackward(z, dZHat, eps: eps)
        let dZ1 = try empty([n, d]), dZ2 = try empty([n, d])
        try copyRows(dZ, rows: 0..<n, into: dZ1, at: 0, op: op)
        try copyRows(dZ, rows: n..<rows, into: dZ2, at: 0, op: op)
        return NTXentResult(loss: try mean(rowLoss, axis: 1).reshaped([]), dZ1: dZ1, dZ2: dZ2,
                            algorithm: algorithm == .gemm ? .gemm : .fused)
    }

    /// Each row's loss `(1, 2N)` and dL/dẑ `(2N, D)` through the materialised similarities.
    private func ntXentGEMM(_ zHat: Tensor, n: Int, temperature: Float) throws -> (Tensor, Tensor) {
        let op = "ntXent", rows = 2 * n
        let sim = try matmul(zHat, zHat, transposeB: true)  // cosine similarities, (2N, 2N)
        let rowLoss = try empty([1, rows]), dSim = try empty([rows, rows])
        try launchRows("ntxent_rows", in: .contrastive, rows: rows, length: rows, arguments: [
            try arg(sim, op), try arg(rowLoss, op), try arg(dSim, op), try int32(rows, op), try int32(n, op),
            .float(Float(1 / Double(temperature))), .float(Float(1 / Double(rows))),
        ])
        // S = ẑẑᵀ: each row is a query (dS·ẑ) and a key (dSᵀ·ẑ).
        let dZHat = try matmul(dSim, zHat)
        try gemm(dSim, zHat, transposeA: true, transposeB: false, alpha: 1, beta: 1, into: dZHat)
        return (rowLoss, dZHat)
    }

    /// Each row's loss `(1, 2N)` and dL/dẑ `(2N, D)` from tiles of the similarities that never
    /// leave the work-groups; `splits` work-groups share each block of rows' keys.
    private func ntXentFused(_ zHat: Tensor, n: Int, d: Int, temperature: Float,
                             splits requested: (forward: Int, backward: Int)) throws -> (Tensor, Tensor) {
        let op = "ntXent", rows = 2 * n, t = NTXentFusedTiles.self
        let tiles = (rows + t.keys - 1) / t.keys
        // Key tiles per split, and the splits that leaves: each gets at least one tile.
        func share(_ wanted: Int) -> (tilesPerSplit: Int, splits: Int) {
            let tilesPerSplit = (tiles + min(max(wanted, 1), tiles) - 1) / min(max(wanted, 1), tiles)
            return (tilesPerSplit, (tiles + tilesPerSplit - 1) / tilesPerSplit)
        }
        guard let columns = t.backwardColumns(localMemoryBytes: device.localMemoryBytes) else {
            throw SSLError.exceedsDeviceLimits(
                kernel: "ntxent_fused_backward", device: device.name,
                detail: "its narrowest tiles need \(t.backwardLocalBytes(columns: t.columnChoices.last!)) bytes of local "
                    + "memory, the device has \(device.localMemoryBytes); use NTXentAlgorithm.gemm")
        }
        let rowBlocks = (rows + t.rows - 1) / t.rows, columnBlocks = (d + columns - 1) / columns
        let rowsArg = try int32(rows, op), dArg = try int32(d, op), nArg = try int32(n, op)
        let invT = Float(1 / Double(temperature))
        let (wx, wy) = t.workGroup

        let (forwardTiles, splits) = share(requested.forward), perSplit = try int32(forwardTiles, op)
        let partMax = try empty([splits, rows]), partSum = try empty([splits, rows]), positive = try empty([rows])
        let forward = try context.kernel("ntxent_fused_forward", in: .contrastive)
        try context.launch(forward, name: "ntxent_fused_forward", global: [splits * wx, rowBlocks * wy], local: [wx, wy],
                           arguments: [try arg(zHat, op), try arg(partMax, op), try arg(partSum, op),
                                       try arg(positive, op), rowsArg, dArg, nArg, .float(invT), perSplit])
        let lse = try empty([rows]), rowLoss = try empty([1, rows])
        try launchElements("ntxent_fused_lse", in: .contrastive, count: rows, arguments: [
            try arg(partMax, op), try arg(partSum, op), try arg(positive, op), try arg(lse, op), try arg(rowLoss, op),
            rowsArg, try int32(splits, op),
        ])

        let (backwardTiles, backwardSplits) = share(requested.backward)
        let partial = try empty([backwardSplits, rows, d])
        let backward = try context.kernel("ntxent_fused_backward", in: .contrastive,
                                          options: columns == t.columns ? "" : "-DNTX_BD=\(columns)")
        try context.launch(backward, name: "ntxent_fused_backward",
                           global: [columnBlocks * wx, rowBlocks * wy, backwardSplits], local: [wx, wy, 1],
                           arguments: [try arg(zHat, op), try arg(lse, op), try arg(partial, op), rowsArg, dArg, nArg,
                                       .float(invT), .float(Float(1 / (Double(rows) * Double(temperature)))),
                                       try int32(backwardTiles, op)])
        let dZHat = backwardSplits == 1
            ? try partial.reshaped([rows, d])
            : try sum(try partial.reshaped([backwardSplits, rows * d]), axis: 0).reshaped([rows, d])
        return (rowLoss, dZHat)
    }
}

/// The fused NT-Xent kernels' tiles, as Kernels/contrastive.cl defines them (NTX_BR, NTX_BC,
/// NTX_BK, NTX_BD, NTX_WX × NTX_WY; a test reads the defines back), and how many splits of the keys to use.
enum NTXentFusedTiles {
    /// Query rows per work-group (NTX_BR).
    static let rows = 32
    /// Key rows per tile (NTX_BC).
    static let keys = 32
    /// Features per staging step of the dot products (NTX_BK).
    static let depth = 16
    /// Columns of dẑ per backward work-group (NTX_BD), the kernel's default.
    static let columns = 128
    /// NTX_BD from the widest down, for devices whose local memory does not hold the default's
    /// key tile (24.8 KB; at 32 columns 12.5 KB fits a 16 KiB device).
    static let columnChoices = [columns, 64, 32]
    /// Work-items per work-group (NTX_WX, NTX_WY).
    static let workGroup = (8, 8)

    /// The forward's local memory: the query and key slices and the rows' merge states.
    static var forwardLocalBytes: Int { 4 * (depth * (rows + 1) + depth * (keys + 1) + 2 * rows * workGroup.0) }

    /// The backward's local memory with `columns` columns of dẑ per group: the slices, the
    /// weights of a tile and its keys' columns.
    static func backwardLocalBytes(columns: Int) -> Int {
        4 * (depth * (rows + 1) + depth * (keys + 1) + rows * (keys + 1) + keys * columns)
    }

    /// The widest backward tile whose local memory fits `localMemoryBytes`, nil if none does.
    static func backwardColumns(localMemoryBytes: Int) -> Int? {
        columnChoices.first { backwardLocalBytes(columns: $0) <= localMemoryBytes }
    }

    /// Splits enough for about 8 work-groups per compute unit (so that a small batch still fills
    /// a GPU), at most 16. The backward's partial sums, splits × R × D floats, are also kept
    /// within the R × R that the GEMM algorithm's similarities take.
    static func splits(rows: Int, d: Int, computeUnits: Int,
                       localMemoryBytes: Int = .max) -> (forward: Int, backward: Int) {
        let columns = backwardColumns(localMemoryBytes: localMemoryBytes) ?? Self.columns
        let rowBlocks = (rows + Self.rows - 1) / Self.rows, columnBlocks = (d + columns - 1) / columns
        let target = 8 * max(computeUnits, 1)
        let forward = (target + rowBlocks - 1) / rowBlocks
        let backward = (target + rowBlocks * columnBlocks - 1) / (rowBlocks * columnBlocks)
        return (max(1, min(forward, 16)), max(1, min(backward, 16, rows / max(d, 1))))
    }
}
