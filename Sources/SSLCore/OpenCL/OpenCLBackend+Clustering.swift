// Helpers of the clustering objectives' OpenCL code (Kernels/clustering.cl): int32 index
// buffers, row copies between tensors, and launches of the kernels that reduce to an arg-max.
import COpenCL

extension OpenCLBackend {
    /// A device buffer of int32 indices (labels, assignments, rows), `count` ≥ 1 of them.
    func indexBuffer(count: Int, op: String) throws -> OpenCLBuffer {
        _ = try int32(count, op)
        return try context.buffer(bytes: max(count, 1) * 4)
    }

    /// Uploads indices as int32; each must fit in 32 bits (the callers validate their range).
    func uploadIndices(_ indices: [Int], op: String) throws -> OpenCLBuffer {
        let buffer = try indexBuffer(count: indices.count, op: op)
        let words = indices.map { Int32(truncatingIfNeeded: $0) }
        guard !words.isEmpty else { return buffer }
        try check(words.withUnsafeBytes { raw in
            clEnqueueWriteBuffer(context.queue, buffer.mem, cl_bool(CL_TRUE), 0, raw.count, raw.baseAddress, 0, nil, nil)
        }, "clEnqueueWriteBuffer(\(words.count * 4) bytes)")
        return buffer
    }

    /// Reads `count` int32 indices back; waits for the work that writes them.
    func downloadIndices(_ buffer: OpenCLBuffer, count: Int) throws -> [Int] {
        var words = [Int32](repeating: 0, count: count)
        guard count > 0 else { return [] }
        try check(words.withUnsafeMutableBytes { raw in
            clEnqueueReadBuffer(context.queue, buffer.mem, cl_bool(CL_TRUE), 0, raw.count, raw.baseAddress, 0, nil, nil)
        }, "clEnqueueReadBuffer(\(count * 4) bytes)")
        return words.map(Int.init)
    }

    /// Copies `rows` rows of `source` from row `sourceRow` into `destination` from row
    /// `destinationRow`; both are matrices with the same number of columns, distinct buffers.
    func copyRows(_ source: Tensor, from sourceRow: Int, into destination: Tensor, at destinationRow: Int,
                  rows: Int, op: String) throws {
        precondition(source.rank == 2 && destination.rank == 2 && source.shape[1] == destination.shape[1]
                     && sourceRow + rows <= source.shape[0] && destinationRow + rows <= destination.shape[0],
                     "copyRows: rows out of range")
        guard rows > 0 else { return }
        let rowBytes = source.shape[1] * 4
        var event: cl_event? = nil
        try check(clEnqueueCopyBuffer(context.queue, try deviceBuffer(source, op: op).mem,
                                      try deviceBuffer(destination, op: op).mem, sourceRow * rowBytes,
                                      destinationRow * rowBytes, rows * rowBytes, 0, nil, &event),
                  "clEnqueueCopyBuffer(\(op))")
        context.record(event)
    }

    /// `‖x_n‖²` of each row of a matrix, `(N)`.
    func rowSquaredNorms(_ x: Tensor, op: String) throws -> Tensor {
        let out = try empty([x.shape[0]])
        try launchRows("row_sq_norms", in: .clustering, rows: x.shape[0], length: x.shape[1],
                       arguments: [try arg(x, op), try arg(out, op), try int32(x.shape[1], op)])
        return out
    }

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
