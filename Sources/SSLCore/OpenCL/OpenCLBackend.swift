// The OpenCL backend: tensors in device buffers, ops as kernels of Kernels/*.cl and CLBlast.
import COpenCL
import Foundation

/// Backend on one OpenCL device. Ops enqueue work on the device's in-order queue and return
/// at once; ``download(_:)`` and ``synchronize()`` wait.
public final class OpenCLBackend: Backend {
    public let kind = BackendKind.openCL
    public let context: OpenCLContext
    public var name: String { "OpenCL: \(context.device)" }
    public var device: OpenCLDeviceInfo { context.device }
    /// Which version of a kernel family runs where there are several (fused or not, TF32 GEMM).
    public let kernels: KernelChoices
    /// The forms the device's tuning file measured fastest, which the automatic choices follow
    /// where ``kernels`` sets none; nil (the built-in defaults) without one.
    public let paths: TunedPaths?

    /// A backend on `device`, its kernel choices from the environment (``KernelChoices/init(environment:)``).
    public init(device: OpenCLDeviceInfo) throws {
        self.context = try OpenCLContext(device: device)
        self.kernels = try KernelChoices(environment: ProcessInfo.processInfo.environment)
        self.paths = context.gemmTuning?.tuning.paths
        try kernels.check(on: context.device)
    }

    /// A backend over an existing context, e.g. one with its own kernel-cache folder or other
    /// kernel choices, following the device's tuning file; several backends may share a context.
    /// - Parameters:
    ///   - context: the device's context and queue.
    ///   - kernels: the kernel forms to use where there are several.
    public convenience init(context: OpenCLContext, kernels: KernelChoices = KernelChoices()) {
        self.init(context: context, kernels: kernels, paths: context.gemmTuning?.tuning.paths)
    }

    /// A backend over an existing context that follows `paths` where `kernels` sets nothing.
    /// - Parameters:
    ///   - context: the device's context and queue.
    ///   - kernels: the kernel forms to use where there are several.
    ///   - paths: the measured fastest forms; nil for the built-in choices.
    public init(context: OpenCLContext, kernels: KernelChoices, paths: TunedPaths?) {
        self.context = context
        self.kernels = kernels
        self.paths = paths
    }

    public func upload(_ values: [Float], shape: [Int]) throws -> Tensor {
        guard shape.allSatisfy({ $0 >= 0 }), values.count == shape.reduce(1, *) else {
            throw SSLError.shapeMismatch(op: "upload", detail: "\(values.count) values do not fill shape \(shapeText(shape))")
        }
        let tensor = Tensor(shape: shape, storage: .device(try context.buffer(bytes: values.count * 4)))
        try upload(values, into: tensor)
        return tensor
    }

    public func upload(_ values: [Float], into tensor: Tensor) throws {
        let buffer = try deviceBuffer(tensor, op: "upload")
        guard values.count == tensor.count else {
            throw SSLError.shapeMismatch(op: "upload", detail: "\(values.count) values do not fill shape \(shapeText(tensor.shape))")
        }
        guard !values.isEmpty else { return }
        // Not blocking: the values are copied to memory that the write's completion frees, so the
        // host goes on preparing work while the device takes them in. In order, so earlier readers
        // of the old contents run first.
        let bytes = values.count * 4
        let staged = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        values.withUnsafeBytes { staged.copyMemory(from: $0.baseAddress!, byteCount: bytes) }
        var event: cl_event? = nil
        let status = clEnqueueWriteBuffer(context.queue, buffer.mem, cl_bool(CL_FALSE), 0, bytes, staged, 0, nil, &event)
        guard status == CL_SUCCESS, let event else {
            staged.deallocate()
            throw SSLError.openCL(call: "clEnqueueWriteBuffer(\(bytes) bytes)", status: status)
        }
        let callback = clSetEventCallback(event, CL_COMPLETE, { _, _, memory in memory?.deallocate() }, staged)
        if callback != CL_SUCCESS {
            clWaitForEvents(1, [event])  // no callback: wait, then free here
            staged.deallocate()
        }
        context.record(event, name: "upload", bytes: bytes)
    }

    public func zeros(_ shape: [Int]) throws -> Tensor {
        let t = try empty(shape)
        try fill(t, with: 0)
        return t
    }

    public func download(_ tensor: Tensor) throws -> [Float] {
        let buffer = try deviceBuffer(tensor, op: "download")
        var values = [Float](repeating: 0, count: tensor.count)
        if !values.isEmpty {
            var event: cl_event? = nil
            try check(values.withUnsafeMutableBytes { raw in
                clEnqueueReadBuffer(context.queue, buffer.mem, cl_bool(CL_TRUE), 0, raw.count, raw.baseAddress, 0, nil, &event)
            }, "clEnqueueReadBuffer(\(tensor.count * 4) bytes)")
            context.record(event, name: "download", bytes: tensor.count * 4)
        }
        return values
    }

    public func synchronize() throws { try context.finish() }

    // MARK: - Helpers for the op files

    /// A tensor whose contents are whatever the pooled buffer held.
    func empty(_ shape: [Int]) throws -> Tensor {
        Tensor(shape: shape, storage: .device(try context.buffer(bytes: shape.reduce(1, *) * 4)))
    }

    public func fill(_ tensor: Tensor, with value: Float) throws {
        let buffer = try deviceBuffer(tensor, op: "fill")
        guard tensor.count > 0 else { return }
        // Oclgrind runs clEnqueueFillBuffer as one store per element and keeps only the last
        // one's shadow (OpenCLDeviceInfo.isOclgrind); a kernel fill is tracked exactly.
        if device.isOclgrind {
            return try launchElements("fill_value", in: .elementwise, count: tensor.count, arguments: [
                .buffer(buffer), try int32(tensor.count, "fill"), .float(value),
            ])
        }
        var pattern = value
        var event: cl_event? = nil
        try check(clEnqueueFillBuffer(context.queue, buffer.mem, &pattern, 4, 0, tensor.count * 4, 0, nil, &event),
                  "clEnqueueFillBuffer")
        context.record(event, name: "fill")
    }

    func deviceBuffer(_ tensor: Tensor, op: String) throws -> OpenCLBuffer {
        guard let buffer = tensor.deviceBuffer, buffer.context === context else {
            throw SSLError.wrongBackend(op: op, expected: "OpenCL device \(device.name)", found: tensor.location)
        }
        return buffer
    }

    func arg(_ tensor: Tensor, _ op: String) throws -> KernelArgument {
        .buffer(try deviceBuffer(tensor, op: op))
    }

    /// A power-of-two work-group size for a kernel that reduces `length` values per group, at most `cap`.
    func groupSize(for kernel: cl_kernel, length: Int, cap: Int = 256) throws -> Int {
        let limit = min(cap, try maxGroupSize(kernel))
        var size = 1
        while size * 2 <= limit && size < length { size *= 2 }
        return size
    }

    /// The largest work-group `kernel` can be launched with on this device (its registers and local memory allowing).
    func maxGroupSize(_ kernel: cl_kernel) throws -> Int { try context.maxGroupSize(kernel) }

    /// Whether a row kernel runs one work-item per row: on a CPU device with rows enough to keep
    /// every core busy. PoCL runs a group's work-items as loops between barriers, and group_sum's
    /// tree of barriers costs more than a row's own arithmetic (PoCL, 2 cores: ntxent_rows on
    /// 512×512 8.5 ms with 256 work-items a row, 2.0 ms with one; l2_normalize_rows on 512×128
    /// 1.0 and 0.08 ms; augment_views on 512 views of 28×28 14 and 5 ms). ``KernelChoices/serialRows``
    /// overrides it (the tests run both forms everywhere).
    func rowsRunSerially(_ rows: Int) -> Bool {
        kernels.serialRows ?? (device.kind == .cpu && rows >= 4 * device.computeUnits)
    }

    /// Launches `name` with one work-group of 2^k work-items per row (one work-item, from the
    /// program built with -DROWS_SERIAL, where ``rowsRunSerially(_:)``) and `scratch` floats of
    /// local memory.
    func launchRows(_ name: String, in program: KernelProgram, rows: Int, length: Int,
                    arguments: [KernelArgument]) throws {
        let serial = rowsRunSerially(rows)
        let kernel = try context.kernel(name, in: program, options: serial ? "-DROWS_SERIAL" : "")
        let local = try groupSize(for: kernel, length: length, cap: serial ? 1 : 256)
        try context.launch(kernel, name: name, global: [rows * local], local: [local],
                           arguments: arguments + [.local(bytes: local * 4)])
    }

    /// Whether a per-channel reduction over (N, F) (`inner` 1) runs one work-item per column looping
    /// over rows (the `*_columns` kernels) instead of one work-group per channel: on CPU devices,
    /// which run a group's work-items as a vectorised loop, so neighbouring items must read
    /// neighbouring addresses. GPUs keep the group per channel, which has more parallelism for
    /// small F. ``KernelChoices/columnReductions`` overrides it (the tests run both forms everywhere).
    func reducesColumnsPerWorkItem(inner: Int) -> Bool {
        inner == 1 && (kernels.columnReductions ?? (device.kind == .cpu))
    }

    /// Launches `name` over `count` work-items, one per element.
    func launchElements(_ name: String, in program: KernelProgram, options: String = "", count: Int,
                        arguments: [KernelArgument]) throws {
        let kernel = try context.kernel(name, in: program, options: options)
        try context.launch(kernel, name: name, global: [count], arguments: arguments)
    }

    /// Launches `name` over the range `global` (up to three dimensions, exactly the range, so the
    /// kernel needs no bounds check), or does nothing where a dimension is 0 (OpenCL 1.2 refuses
    /// an empty range). A GPU's driver picks the group size; on a CPU device groups of up to 1 024
    /// work-items fill the first dimension, then the next: PoCL pays per group, and its own choice
    /// for rows of 14 or 28 positions made im2col 1.4× and the NCHW scatter 1.8× slower.
    func launchGrid(_ name: String, in program: KernelProgram, options: String = "", global: [Int],
                    arguments: [KernelArgument]) throws {
        guard !global.contains(0) else { return }
        for size in global { _ = try int32(size, name) }
        let kernel = try context.kernel(name, in: program, options: options)
        var local: [Int]? = nil
        if device.kind == .cpu {
            var room = min(1024, try maxGroupSize(kernel))
            local = global.map { size in
                let side = (1...min(size, room)).last { size % $0 == 0 }!  // OpenCL 1.2: groups divide the range
                room /= side
                return side
            }
        }
        try context.launch(kernel, name: name, global: global, local: local, arguments: arguments)
    }

    /// Launches the column kernel `name` (common.cl's COLUMN_WIDTH) over `columns` columns: eight
    /// per work-item up to a multiple of 8, then one per work-item for the rest. `arguments` end
    /// with the first column, which the launch appends.
    func launchColumns(_ name: String, in program: KernelProgram, columns: Int,
                       arguments: [KernelArgument]) throws {
        let vectors = columns / 8
        if vectors > 0 {
            let kernel = try context.kernel(name, in: program, options: "-DCOLUMN_WIDTH=8")
            try context.launch(kernel, name: name, global: [vectors], arguments: arguments + [.int(0)])
        }
        if columns > vectors * 8 {
            let kernel = try context.kernel(name, in: program, options: "-DCOLUMN_WIDTH=1")
            try context.launch(kernel, name: name, global: [columns - vectors * 8],
                               arguments: arguments + [try int32(vectors * 8, name)])
        }
    }
}

/// Kernel arguments are 32-bit: sizes above Int32.max are refused rather than wrapped.
func int32(_ value: Int, _ op: String) throws -> KernelArgument {
    guard let v = Int32(exactly: value) else {
        throw SSLError.invalidArgument(op: op, detail: "size \(value) exceeds the 32-bit index range of the kernels")
    }
    return .int(v)
}
