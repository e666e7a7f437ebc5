// Similarity top-k for weighted kNN (Kernels/knn.cl): the test × train similarities reduced to
// each test row's k best without the similarity matrix in device memory, or GEMM then top-k.

/// How ``OpenCLBackend`` runs ``EvalOps/similarityTopK(_:_:k:columnOffset:merging:)``.
public enum KNNVariant: String, CaseIterable, Sendable {
    /// Tiles of similarities computed and folded into per-row top-k lists in one kernel.
    case fused
    /// CLBlast GEMM into an (R, C) matrix, then ``EvalOps/topK(_:k:columnOffset:merging:)``.
    case unfused
}
