// The host's BLAS (OpenBLAS), loaded once on first use, for GEMMs on CPU OpenCL devices.
import CHostBLAS
import Foundation

/// The host BLAS that ``GemmVariant/blas`` runs: OpenBLAS by default, or the library named by
/// `SSL_BLAS_LIBRARY` (any that exports `cblas_sgemm`).
public enum HostBLAS {
    public static let libraryVariable = "SSL_BLAS_LIBRARY"

    /// The loaded library's path, or why none could be loaded (dlopen's or dlsym's message).
    /// Tried once per process.
    public static let library: Result<String, SSLError> = {
        let path = ProcessInfo.processInfo.environment[libraryVariable].flatMap { $0.isEmpty ? nil : $0 }
        var message = [CChar](repeating: 0, count: 2048)
        guard hostblas_load(path, &message, message.count) == 0, let loaded = hostblas_library() else {
            return .failure(.invalidArgument(
                op: "gemm", detail: "no host BLAS: \(String(cString: message)) (apt-get install libopenblas0, "
                    + "or name a library exporting cblas_sgemm in \(libraryVariable))"))
        }
        return .success(String(cString: loaded))
    }()

    public static var isAvailable: Bool { unavailableReason == nil }

    /// Why no host BLAS could be loaded, or nil when one was.
    public static var unavailableReason: String? {
        if case .failure(let error) = library { return error.description }
        return nil
    }
}
