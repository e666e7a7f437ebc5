// Which version of a kernel family the OpenCL backend runs, where there are several: fused or
// unfused Sinkhorn and kNN, CLBlast or TF32 tensor-core GEMM. Tests and ssl-bench pick each one;
// everyone else gets the automatic choice.

/// The kernel versions ``OpenCLBackend`` uses. `nil` means automatic (by size and device).
///
/// ```swift
/// let backend = try OpenCLBackend(device: device)   // SSL_SINKHORN, SSL_KNN, SSL_GEMM read here
/// backend.kernels.sinkhorn = .twoPass                 // the unfused path, e.g. to compare
/// ```
public struct KernelChoices: Equatable, Sendable {
    /// Sinkhorn-Knopp's version; nil: ``OpenCLBackend/automaticSinkhornVariant(b:k:)``.
    public var sinkhorn: SinkhornVariant?
    /// The kNN similarity top-k's version; nil: fused where its lists fit in local memory.
    public var knn: KNNVariant?
    /// The GEMM of every op; nil: ``OpenCLBackend/gemmVariant`` (the host BLAS on CPU devices
    /// that run native kernels, else CLBlast; TF32 tensor cores are opt-in).
    public var gemm: GemmVariant?
    /// Per-channel reductions over (N, F) (batch norm, bias gradient) by one work-item per column
    /// (true) or one work-group per channel (false); nil: columns on CPU devices only.
    public var columnReductions: Bool?
    /// Row kernels (and topK) with one work-item per row (true) or a work-group per row (false);
    /// nil: one per row on CPU devices when there are rows enough for every core.
    public var serialRows: Bool?

    /// The environment variables read by ``init(environment:)``.
    public static let sinkhornVariable = "SSL_SINKHORN", knnVariable = "SSL_KNN", gemmVariable = "SSL_GEMM"

    /// Every choice automatic unless given.
    public init(sinkhorn: SinkhornVariant? = nil, knn: KNNVariant? = nil, gemm: GemmVariant? = nil,
                columnReductions: Bool? = nil, serialRows: Bool? = nil) {
        self.sinkhorn = sinkhorn
        self.knn = knn
        self.gemm = gemm
        self.columnReductions = columnReductions
        self.serialRows = serialRows
    }

    /// The choices named by `SSL_SINKHORN` (two-pass, one-pass, one-group), `SSL_KNN` (fused,
    /// unfused) and `SSL_GEMM` (clblast, blas, tf32); unset, empty or `auto` is the default.
    /// - Throws: ``SSLError/invalidArgument(op:detail:)`` naming the variable and its valid values.
    public init(environment: [String: String]) throws {
        func parse<V: RawRepresentable & CaseIterable>(_ name: String, _: V.Type) throws -> V? where V.RawValue == String {
            guard let text = environment[name]?.lowercased(), !text.isEmpty, text != "auto" else { return nil }
            guard let value = V(rawValue: text) else {
                let valid = (V.allCases.map(\.rawValue) + ["auto"]).joined(separator: ", ")
                throw SSLError.invalidArgument(op: name, detail: "'\(text)' is not one of \(valid)")
            }
            return value
        }
        self.init(sinkhorn: try parse(Self.sinkhornVariable, SinkhornVariant.self),
                  knn: try parse(Self.knnVariable, KNNVariant.self),
                  gemm: try parse(Self.gemmVariable, GemmVariant.self))
    }

    /// Throws when a choice cannot run on `device`: TF32 GEMM needs NVIDIA's OpenCL (inline PTX) on
    /// compute capability 8.0 or later,
    /// the host-BLAS GEMM a CPU device that runs native kernels and a loadable BLAS.
    public func check(on device: OpenCLDeviceInfo) throws {
        if gemm == .blas {
            guard device.sharesHostMemory else {
                throw SSLError.invalidArgument(
                    op: "gemm", detail: "the host-BLAS GEMM (\(Self.gemmVariable)=blas) runs on the host's memory and needs a CPU "
                        + "device that runs native kernels; \(device.name) on \(device.platformName) is not one: use clblast")
            }
            if case .failure(let error) = HostBLAS.library { throw error }
        }
        if gemm == .tf32, let problem = device.tf32Problem {
            throw SSLError.invalidArgument(
                op: "gemm", detail: "the TF32 GEMM (\(Self.gemmVariable)=tf32, --tf32) cannot run: \(problem); "
                    + "use the default (clblast)")
        }
    }
}
