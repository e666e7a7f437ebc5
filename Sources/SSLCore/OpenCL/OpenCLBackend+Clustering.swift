// Helpers of the clustering objectives' OpenCL code (Kernels/clustering.cl): one-hot
// labels, and launches of the kernels that reduce to an arg-max.
import COpenCL

extension OpenCLBackend {
    /// Launches a kernel of `clustering.cl` that ends in `group_argmax`: `groups` work-groups of
    /// 2^k items sized for `length` values each, with the float and int local arrays it needs.
    func launchArgmax(_ name: String, groups: Int, length: Int, arguments: [KernelArgument]) throws {
        let kernel = try context.kernel(name, in: .clustering)
        let local = try groupSize(for: kernel, length: length)
        try context.launch(kernel, name: name, global: [groups * local], local: [local],
                           arguments: arguments + [.local(bytes: local * 4), .local(bytes: local * 4)])
    }

    /// The one-hot matrix `(N, K)` of int32 labels on the device.
    func oneHot(_ labels: OpenCLBuffer, rows: Int, k: Int, rowOffset: Int = 0, op: String) throws -> Tensor {
        let out = try empty([rows, k])
        try launchElements("one_hot", in: .clustering, count: rows * k, arguments: [
            .buffer(labels), try arg(out, op), try int32(rows, op), try int32(k, op), try int32(rowOffset, op),
        ])
        return out
    }
}
