// GEMM through CLBlast (CLBlastSgemm, row-major), enqueued on the backend's own queue so it
// orders with the library's kernels without extra synchronisation; on CPU devices the host's
// BLAS as a native kernel of the same queue (CHostBLAS); or, opted into on NVIDIA, the TF32
// tensor-core kernel of Kernels/gemm_tf32.cl.
import CHostBLAS
import COpenCL

/// Which GEMM ``OpenCLBackend`` runs for every op that multiplies matrices.
public enum GemmVariant: String, CaseIterable, Sendable {
    /// CLBlast's SGEMM, float32 throughout, with the device's tuned parameters (GemmTuning).
    case clblast
    /// The host's BLAS (OpenBLAS's `cblas_sgemm`, ``HostBLAS``) run as an OpenCL native kernel on
    /// the buffers' host memory: CPU devices that run native kernels (PoCL) only, where it is
    /// 7–12× faster than CLBlast's OpenCL kernels. The default on such devices.
    case blas
    /// TF32 tensor cores (Kernels/gemm_tf32.cl, `mma.sync` m16n8k8): inputs rounded to TF32's
    /// 10-bit mantissa (unit roundoff 2⁻¹¹), products and sums in float32, so each entry of C is
    /// within ~2⁻¹⁰·Σ_k |a_ik||b_kj| of the exact product (about 1e-3 relative; the tests allow
    /// 2⁻⁹). NVIDIA's OpenCL only; opt-in (`SSL_GEMM=tf32`, `ssl-bench --tf32`).
    case tf32

    /// What runs when ``KernelChoices/gemm`` is not set: the host BLAS on a CPU device that runs
    /// native kernels and has one, else CLBlast (TF32 is opt-in).
    public static func automatic(for device: OpenCLDeviceInfo) -> GemmVariant {
        device.sharesHostMemory && HostBLAS.isAvailable ? .blas : .clblast
    }

    /// One line on what runs GEMMs of this variant, for `ssl devices` and the first lines of a run.
    public func summary(tuning: GemmTuningSelection?) -> String {
        switch self {
        case .tf32: return "TF32 tensor cores (\(KernelChoices.gemmVariable)=tf32), inline PTX mma.sync"
        case .blas: return "host BLAS as an OpenCL native kernel (\((try? HostBLAS.library.get()) ?? "not loaded"))"
        case .clblast:
            return "CLBlast, " + (tuning.map { "tuned by \($0.summary)" }
                ?? "its own database's parameters (no tuning file for this device and driver)")
        }
    }
}

extension OpenCLBackend {
    /// What runs this backend's GEMMs, for the first lines of a run: the host BLAS, the TF32
    /// kernel, or CLBlast with the tuning file applied to the device (``OpenCLContext/gemmTuning``)
    /// or its own database.
    public var gemmDescription: String { gemmVariant.summary(tuning: context.gemmTuning) }

    /// The GEMM that runs: ``KernelChoices/gemm`` when set, else ``GemmVariant/automatic(for:)``.
    public var gemmVariant: GemmVariant { kernels.gemm ?? .automatic(for: device) }

    public func gemm(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool,
                     alpha: Float, beta: Float, into c: Tensor) throws {
        let g = try Shapes.gemm(a.shape, b.shape, c: c.shape, transposeA: transposeA, transposeB: transposeB)
        switch gemmVariant {
        case .tf32:
            try kernels.check(on: device)
            return try gemmTF32(a, b, transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: beta, into: c,
                                tiles: try tf32Tiles(emulated: !device.runsTF32))
        case .blas:
            try kernels.check(on: device)
            return try gemmHostBLAS(a, b, g, transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: beta, into: c)
        case .clblast:
            break
        }
        let ab = try deviceBuffer(a, op: "gemm"), bb = try deviceBuffer(b, op: "gemm")
        let cb = try deviceBuffer(c, op: "gemm")
        // Leading dimensions are the stored row lengths.
        let lda = a.shape[1], ldb = b.shape[1], ldc = g.n
        try context.markStart()
        var event: cl_event? = nil
        let status = OpenCLContext.withCLBlast {
            CLBlastSgemm(CLBlastLayoutRowMajor,
                         transposeA ? CLBlastTransposeYes : CLBlastTransposeNo,
                         transposeB ? CLBlastTransposeYes : CLBlastTransposeNo,
                         g.m, g.n, g.k, alpha, ab.mem, 0, lda, bb.mem, 0, ldb, beta, cb.mem, 0, ldc,
                         &context.queue, &event)
        }
        guard status == CLBlastSuccess else {
            throw SSLError.clblast(call: "CLBlastSgemm(m \(g.m), n \(g.n), k \(g.k))", status: status.rawValue)
        }
        context.record(event, name: "gemm (CLBlast)")
    }

    /// `cblas_sgemm` as a native kernel on the queue: no host wait, ordered like any kernel.
    private func gemmHostBLAS(_ a: Tensor, _ b: Tensor, _ g: Shapes.Gemm, transposeA: Bool, transposeB: Bool,
                              alpha: Float, beta: Float, into c: Tensor) throws {
        let op = "gemm"
        let ab = try deviceBuffer(a, op: op), bb = try deviceBuffer(b, op: op), cb = try deviceBuffer(c, op: op)
        guard let m = Int32(exactly: g.m), let n = Int32(exactly: g.n), let k = Int32(exactly: g.k) else {
            throw SSLError.invalidArgument(op: op, detail: "m \(g.m), n \(g.n), k \(g.k) exceed BLAS's 32-bit sizes")
        }
        var event: cl_event? = nil
        let status = hostblas_enqueue_sgemm(
            context.queue, transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, alpha,
            ab.mem, 0, Int32(a.shape[1]), bb.mem, 0, Int32(b.shape[1]), beta, cb.mem, 0, n, 0, nil, &event)
        try check(status, "clEnqueueNativeKernel(cblas_sgemm m \(g.m), n \(g.n), k \(g.k))")
        context.record(event, name: "gemm (host BLAS)")
    }

    /// The TF32 kernel with the given tiles, on any device: inline PTX where the compiler is
    /// NVIDIA's, else (or with `emulate`) the mma emulated in local memory, which tests use to
    /// check everything around the instruction.
    func gemmTF32(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool, alpha: Float, beta: Float,
                  into c: Tensor, tiles: TF32Tiles, emulate: Bool = false) throws {
        let op = "gemm"
        let g = try Shapes.gemm(a.shape, b.shape, c: c.shape, transposeA: transposeA, transposeB: transposeB)
        guard g.m > 0 && g.n > 0 else { return }
        // Emulated wherever mma.sync on TF32 is missing (not NVIDIA, or before sm_80).
        let emulated = emulate || !device.runsTF32
        let kernel = try context.kernel("gemm_tf32", in: .gemmTF32, options: tiles.options + (emulated ? " -DGT_EMULATE" : ""))
        try context.launch(kernel, name: "gemm_tf32",
                           global: [(g.n + tiles.columns - 1) / tiles.columns * tiles.workItems, (g.m + tiles.rows - 1) / tiles.rows],
                           local: [tiles.workItems, 1], arguments: [
            try int32(g.m, op), try int32(g.n, op), try int32(g.k, op), .float(alpha),
            try arg(a, op), try int32(a.shape[1], op), .int(transposeA ? 1 : 0),
            try arg(b, op), try int32(b.shape[1], op), .int(transposeB ? 1 : 0), .float(beta),
            try arg(c, op), try int32(g.n, op),
            // Per warp a 16×8 A and an 8×8 B when emulated; unread by the PTX branch.
            .local(bytes: tiles.scratchBytes(emulated: emulated)),
        ])
    }

    /// The widest TF32 tiles this device runs: the standard ones wherever TF32 exists (sm_80 and
    /// later allow 1024 work-items and 48 KiB), smaller ones for the emulated kernel on devices
    /// with smaller groups or less local memory.
    func tf32Tiles(emulated: Bool) throws -> TF32Tiles {
        for tiles in [TF32Tiles.standard, .small, .portable] where tiles.localBytes(emulated: emulated) <= device.localMemoryBytes {
            let kernel = try context.kernel("gemm_tf32", in: .gemmTF32, options: tiles.options + (emulated ? " -DGT_EMULATE" : ""))
            if try maxGroupSize(kernel) >= tiles.workItems { return tiles }
        }
        throw SSLError.exceedsDeviceLimits(
            kernel: "gemm_tf32", device: device.name,
            detail: "even its smallest tiles need groups of \(TF32Tiles.portable.workItems) work-items and "
                + "\(TF32Tiles.portable.localBytes(emulated: emulated)) bytes of local memory; use the default GEMM (clblast)")
    }
}

/// The block shape of `gemm_tf32` (its `-D` build options).
struct TF32Tiles: Equatable {
    /// Rows and columns of C per work-group, k per local-memory slice.
    let rows: Int, columns: Int, depth: Int
    /// Warps along M and N; each owns a (rows / warpsM) × (columns / warpsN) tile of m16n8 tiles.
    let warpsM: Int, warpsN: Int

    /// 128 × 128 × 16, 2 × 4 warps of 64 × 32: 64 accumulators and 24 fragment registers per
    /// lane, 20 KiB of local memory.
    static let standard = TF32Tiles(rows: 128, columns: 128, depth: 16, warpsM: 2, warpsN: 4)
    /// 32 × 32 × 8, 2 × 2 warps of 16 × 16: for the tests' odd sizes.
    static let small = TF32Tiles(rows: 32, columns: 32, depth: 8, warpsM: 2, warpsN: 2)
    /// 32 × 32 × 8, 1 × 2 warps of 32 × 16: 64 work-items, for the emulated kernel on devices
    /// with groups that small.
    static let portable = TF32Tiles(rows: 32, columns: 32, depth: 8, warpsM: 1, warpsN: 2)

    var workItems: Int { 32 * warpsM * warpsN }

    /// The emulated mma's per-warp scratch (a 16×8 A and an 8×8 B, with room to spare); the PTX
    /// form reads none, but a local argument needs a size.
    func scratchBytes(emulated: Bool) -> Int { emulated ? workItems / 32 * 192 * 4 : 4 }

    /// The A and B slices (rows padded to depth + 4 floats) and the scratch.
    func localBytes(emulated: Bool) -> Int { 4 * (rows + columns) * (depth + 4) + scratchBytes(emulated: emulated) }
    var options: String { "-DGT_BM=\(rows) -DGT_BN=\(columns) -DGT_BK=\(depth) -DGT_WM=\(warpsM) -DGT_WN=\(warpsN)" }
}
