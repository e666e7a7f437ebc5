// Buffer plumbing the ops share: int32 index buffers (labels, rows, assignments) and row-block
// copies between matrices, all on the backend's queue.
import COpenCL

extension OpenCLBackend {
    /// A device buffer for `count` int32 indices (at least one slot, since OpenCL buffers are never empty).
    func indexBuffer(count: Int, op: String) throws -> OpenCLBuffer {
        _ = try int32(count, op)
        return try context.buffer(bytes: max(count, 1) * 4)
    }

    /// Host indices as a device int32 buffer; an index beyond 32 bits is an error, not a wrap.
    /// The write blocks, as ``upload(_:shape:)`` does; nothing is read back.
    func uploadIndices(_ indices: [Int], op: String) throws -> OpenCLBuffer {
        let words = try indices.map { value -> Int32 in
            guard let word = Int32(exactly: value) else {
                throw SSLError.invalidArgument(op: op, detail: "index \(value) exceeds the 32-bit index range of the kernels")
            }
            return word
        }
        let buffer = try indexBuffer(count: words.count, op: op)
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

    /// Copies rows `rows` of `source` (R, D) into `destination` (R', D) from row `row` on, as one
    /// device-side copy; the two must be distinct buffers. Nothing waits.
    func copyRows(_ source: Tensor, rows: Range<Int>, into destination: Tensor, at row: Int, op: String) throws {
        let width = source.shape.last ?? 1
        precondition(destination.shape.last == width && rows.upperBound <= source.shape[0]
                     && row + rows.count <= destination.shape[0], "\(op): copyRows out of bounds")
        guard !rows.isEmpty else { return }
        let from = try deviceBuffer(source, op: op), to = try deviceBuffer(destination, op: op)
        if device.isOclgrind {  // a copy at an offset loses the rest of the buffer's shadow there
            return try launchElements("copy_range", in: .elementwise, count: rows.count * width, arguments: [
                .buffer(from), try int32(rows.lowerBound * width, op), .buffer(to), try int32(row * width, op),
                try int32(rows.count * width, op),
            ])
        }
        var event: cl_event? = nil
        try check(clEnqueueCopyBuffer(context.queue, from.mem, to.mem, rows.lowerBound * width * 4, row * width * 4,
                                      rows.count * width * 4, 0, nil, &event), "clEnqueueCopyBuffer(\(op))")
        context.record(event, name: "copy")
    }
}
