// Helpers of the contrastive objectives' OpenCL side (OpenCLBackend+NTXent/MoCo/MemoryBank.swift):
// row-block copies between tensors and the upload of host index lists as int buffers.
import COpenCL

extension OpenCLBackend {
    /// Copies rows `rows` of `source` (R, D) into `destination` (R', D) starting at row `row`,
    /// as one device-side copy; nothing waits.
    func copyRows(_ source: Tensor, rows: Range<Int>, into destination: Tensor, at row: Int, op: String) throws {
        let width = source.shape.last ?? 1
        precondition(destination.shape.last == width && row + rows.count <= destination.shape[0], "\(op): copyRows out of bounds")
        guard !rows.isEmpty else { return }
        let from = try deviceBuffer(source, op: op), to = try deviceBuffer(destination, op: op)
        var event: cl_event? = nil
        try check(clEnqueueCopyBuffer(context.queue, from.mem, to.mem, rows.lowerBound * width * 4, row * width * 4,
                                      rows.count * width * 4, 0, nil, &event), "clEnqueueCopyBuffer")
        context.record(event)
    }

    /// Host indices (labels, bank rows) as a device int buffer. The indices are host data that
    /// choose rows, so they travel host → device once per call; nothing is read back.
    func uploadIndices(_ values: [Int], op: String) throws -> KernelArgument {
        let ints = try values.map { value -> Int32 in
            guard let v = Int32(exactly: value) else {
                throw SSLError.invalidArgument(op: op, detail: "index \(value) exceeds the 32-bit index range of the kernels")
            }
            return v
        }
        let buffer = try context.buffer(bytes: ints.count * 4)
        try check(ints.withUnsafeBytes { raw in
            clEnqueueWriteBuffer(context.queue, buffer.mem, cl_bool(CL_TRUE), 0, raw.count, raw.baseAddress, 0, nil, nil)
        }, "clEnqueueWriteBuffer(\(ints.count * 4) bytes)")
        return .buffer(buffer)
    }
}
