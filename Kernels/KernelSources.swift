// The embedded OpenCL C sources, as strings.

public enum KernelSources {
    public static var common: String { text(PackageResources.common_cl) }

    /// The source of `Kernels/<name>.cl`.
    public static func named(_ name: String) -> String {
        switch name {
        case "elementwise": return text(PackageResources.elementwise_cl)
        case "reduce": return text(PackageResources.reduce_cl)
        case "softmax": return text(PackageResources.softmax_cl)
        case "normalize": return text(PackageResources.normalize_cl)
        case "batchnorm": return text(PackageResources.batchnorm_cl)
        case "sinkhorn": return text(PackageResources.sinkhorn_cl)
        case "redundancy": return text(PackageResources.redundancy_cl)
        case "contrastive": return text(PackageResources.contrastive_cl)
        case "clustering": return text(PackageResources.clustering_cl)
        case "distillation": return text(PackageResources.distillation_cl)
        case "layers": return text(PackageResources.layers_cl)
        case "optim": return text(PackageResources.optim_cl)
        case "eval": return text(PackageResources.eval_cl)
        case "knn": return text(PackageResources.knn_cl)
        case "gemm_tf32": return text(PackageResources.gemm_tf32_cl)
        case "augment": return text(PackageResources.augment_cl)
        case "primitives": return text(PackageResources.primitives_cl)
        default: preconditionFailure("no embedded kernel file named \(name).cl")
        }
    }

    private static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}
