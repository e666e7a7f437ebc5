// GEMM through CLBlast (CLBlastSgemm, row-major), enqueued on the backend's own queue so it
// orders with the library's kernels without extra synchronisation.
import COpenCL

/// Which GEMM ``OpenCLBackend`` runs for every op that multiplies matrices.
public enum GemmVariant: String, CaseIterable, Sendable {
    /// CLBlast's SGEMM, float32 throughout, with the device's tuned parameters (GemmTuning).
    case clblast
    /// TF32 tensor cores (Kernels/gemm_tf32.cl): inputs rounded to 10 mantissa bits, float32
    /// accumulation; relative error ~1e-3 of Σ|a||b|. NVIDIA only; opt-in (`SSL_GEMM=tf32`).
    case tf32
}

extension OpenCLBackend {
    /// What runs this backend's GEMMs, for the first lines of a run: the TF32 kernel, or CLBlast
    /// with the tuning file applied to the device (``OpenCLContext/gemmTuning``) or its own database.
    public var gemmDescription: String {
        if kernels.gemm == .tf32 { return "TF32 tensor cores (\(KernelChoices.gemmVariable)=tf32), inline PTX mma.sync" }
        return "CLBlast, " + (context.gemmTuning.map { "tuned by \($0.summary)" } ?? "its own database's parameters (no tuning file for this device and driver)")
    }

    public func gemm(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool,
                     alpha: Float, beta: Float, into c: Tensor) throws {
        let g = try Shapes.gemm(a.shape, b.shape, c: c.shape, transposeA: transposeA, transposeB: transposeB)
        let ab = try deviceBuffer(a, op: "gemm"), bb = try deviceBuffer(b, op: "gemm")
        let cb = try deviceBuffer(c, op: "gemm")
        // Leading dimensions are the stored row lengths.
        let lda = a.shape[1], ldb = b.shape[1], ldc = g.n
        try context.markStart()
        var event: cl_event? = nil
        let status = CLBlastSgemm(
            CLBlastLayoutRowMajor,
            transposeA ? CLBlastTransposeYes : CLBlastTransposeNo,
            transposeB ? CLBlastTransposeYes : CLBlastTransposeNo,
            g.m, g.n, g.k, alpha, ab.mem, 0, lda, bb.mem, 0, ldb, beta, cb.mem, 0, ldc,
            &context.queue, &event)
        guard status == CLBlastSuccess else {
            throw SSLError.clblast(call: "CLBlastSgemm(m \(g.m), n \(g.n), k \(g.k))", status: status.rawValue)
        }
        context.record(event)
    }
}
