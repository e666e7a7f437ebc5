// One OpenCL context and one in-order, profiling-enabled queue per device, with the
// device's programs, kernels and a pool of buffers.
import COpenCL
import Foundation

/// The OpenCL state for one device: context, in-order queue, compiled programs, buffer pool.
///
/// Work is enqueued without waiting; the host blocks only when it reads a result
/// (``OpenCLBackend/download(_:)``) or calls ``finish()``.
public final class OpenCLContext {
    public let device: OpenCLDeviceInfo
    let context: cl_context
    /// Mutable so that CLBlast, which takes `cl_command_queue*`, can be handed its address.
    var queue: cl_command_queue?
    let programs: ProgramCache
    let pool: BufferPool
    /// The tuned CLBlast GEMM parameters applied to this device (Tuning/), or nil for CLBlast's own.
    public let gemmTuning: GemmTuningSelection?

    /// Guards `clSetKernelArg` + `clEnqueueNDRangeKernel` pairs: a `cl_kernel` is shared state.
    private let launchLock = NSLock()
    /// Guards `recorded`, which any enqueue (kernel, fill, CLBlast) appends to while timing.
    private let eventLock = NSLock()
    private var recorded: [cl_event]? = nil

    /// - Parameter kernelCache: where compiled program binaries persist; the default is
    ///   `SSL_KERNEL_CACHE`, else `$XDG_CACHE_HOME/ssl/kernels`, else `~/.cache/ssl/kernels`; nil for none.
    /// - Throws: also ``SSLError/file(path:reason:)`` for a GEMM tuning file that cannot be used (GemmTunings).
    public init(device: OpenCLDeviceInfo, kernelCache: URL? = ProgramCache.defaultDirectory()) throws {
        self.device = device
        self.gemmTuning = try GemmTunings.applyOnce(to: device)
        var status: cl_int = 0
        var id: cl_device_id? = device.id
        guard let context = clCreateContext(nil, 1, &id, nil, nil, &status), status == CL_SUCCESS else {
            throw SSLError.openCL(call: "clCreateContext(\(device.name))", status: status)
        }
        self.context = context
        let properties = cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE)
        guard let queue = clCreateCommandQueue(context, device.id, properties, &status), status == CL_SUCCESS else {
            clReleaseContext(context)
            throw SSLError.openCL(call: "clCreateCommandQueue(\(device.name))", status: status)
        }
        self.queue = queue
        self.programs = ProgramCache(device: device, directory: kernelCache)
        self.pool = BufferPool(limitBytes: min(device.globalMemoryBytes / 4, 2 << 30))
    }

    deinit {
        if let queue { clFinish(queue) }
        pool.drain()
        programs.releaseAll()
        if let queue { clReleaseCommandQueue(queue) }
        clReleaseContext(context)
    }

    /// Blocks until every enqueued command has finished.
    public func finish() throws {
        try check(clFinish(queue), "clFinish")
    }

    // MARK: - Buffers

    /// A device buffer of `bytes` bytes, from the pool when one of that size is free.
    func buffer(bytes: Int) throws -> OpenCLBuffer {
        let size = max(bytes, 4)
        if size > device.maxAllocationBytes {
            throw SSLError.allocationTooLarge(bytes: bytes, limit: device.maxAllocationBytes, device: device.name)
        }
        if let mem = pool.take(bytes: size) { return OpenCLBuffer(mem: mem, bytes: size, context: self) }
        var status: cl_int = 0
        var mem = clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), size, nil, &status)
        if status == CL_MEM_OBJECT_ALLOCATION_FAILURE || status == CL_OUT_OF_RESOURCES {
            pool.drain()  // cached buffers may be what fills the device
            mem = clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), size, nil, &status)
        }
        guard let mem, status == CL_SUCCESS else {
            throw SSLError.openCL(call: "clCreateBuffer(\(size) bytes on \(device.name))", status: status)
        }
        return OpenCLBuffer(mem: mem, bytes: size, context: self)
    }

    func recycle(_ mem: cl_mem, bytes: Int) {
        pool.give(mem, bytes: bytes)
    }

    // MARK: - Kernels

    /// The kernel `name` of the embedded program `program` built with `options`, compiled on first use.
    func kernel(_ name: String, in program: KernelProgram, options: String = "") throws -> cl_kernel {
        try programs.kernel(name, program: program, options: options, context: context)
    }

    /// Compiles `source` as a program of its own; used for user kernels and the build-failure test.
    public func buildProgram(name: String, source: String, options: String = "") throws {
        _ = try programs.program(name: name, source: source, options: options, context: context)
    }

    /// Sets the arguments of `kernel` and enqueues it over `global` work-items in groups of `local`.
    func launch(_ kernel: cl_kernel, name: String, global: [Int], local: [Int]? = nil,
                arguments: [KernelArgument]) throws {
        var event: cl_event? = nil
        launchLock.lock()
        defer {
            launchLock.unlock()
            record(event)
        }
        for (index, argument) in arguments.enumerated() {
            try argument.set(on: kernel, index: cl_uint(index), kernelName: name)
        }
        let status: cl_int = global.withUnsafeBufferPointer { g in
            if let local {
                return local.withUnsafeBufferPointer { l in
                    clEnqueueNDRangeKernel(queue, kernel, cl_uint(g.count), nil, g.baseAddress, l.baseAddress,
                                           0, nil, &event)
                }
            }
            return clEnqueueNDRangeKernel(queue, kernel, cl_uint(g.count), nil, g.baseAddress, nil, 0, nil, &event)
        }
        try check(status, "clEnqueueNDRangeKernel(\(name), global \(global), local \(local ?? []))")
    }

    /// While timing, enqueues a marker so that the span covers work whose events are not returned
    /// (CLBlast returns the event of its last kernel only, e.g. the final copy of a padded C).
    func markStart() throws {
        eventLock.lock()
        let timing = recorded != nil
        eventLock.unlock()
        guard timing else { return }
        var event: cl_event? = nil
        try check(clEnqueueMarkerWithWaitList(queue, 0, nil, &event), "clEnqueueMarkerWithWaitList")
        record(event)
    }

    /// Keeps `event` for ``endTiming()`` while timing, else releases it.
    func record(_ event: cl_event?) {
        guard let event else { return }
        eventLock.lock(); defer { eventLock.unlock() }
        if recorded != nil { recorded!.append(event) } else { clReleaseEvent(event) }
    }

    // MARK: - Timing by profiling events

    /// Starts collecting the events of every command enqueued from now on.
    public func beginTiming() {
        eventLock.lock(); defer { eventLock.unlock() }
        recorded = []
    }

    /// Waits for the collected commands and returns the device time from the first one's start
    /// to the last one's end, in seconds.
    public func endTiming() throws -> Double {
        try finish()
        eventLock.lock()
        let events = recorded ?? []
        recorded = nil
        eventLock.unlock()
        defer { events.forEach { clReleaseEvent($0) } }
        var first = cl_ulong.max, last = cl_ulong(0)
        for event in events {
            var start: cl_ulong = 0, end: cl_ulong = 0
            try check(clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_START),
                                              MemoryLayout<cl_ulong>.size, &start, nil), "clGetEventProfilingInfo")
            try check(clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_END),
                                              MemoryLayout<cl_ulong>.size, &end, nil), "clGetEventProfilingInfo")
            first = min(first, start)
            last = max(last, end)
        }
        return events.isEmpty ? 0 : Double(last - first) * 1e-9
    }
}

/// One argument of a kernel launch.
enum KernelArgument {
    case buffer(OpenCLBuffer)
    case int(Int32)
    case float(Float)
    /// Work-group local memory of this many bytes.
    case local(bytes: Int)

    func set(on kernel: cl_kernel, index: cl_uint, kernelName: String) throws {
        let status: cl_int
        switch self {
        case .buffer(let buffer):
            var mem: cl_mem? = buffer.mem
            status = clSetKernelArg(kernel, index, MemoryLayout<cl_mem>.size, &mem)
        case .int(var value):
            status = clSetKernelArg(kernel, index, MemoryLayout<Int32>.size, &value)
        case .float(var value):
            status = clSetKernelArg(kernel, index, MemoryLayout<Float>.size, &value)
        case .local(let bytes):
            status = clSetKernelArg(kernel, index, bytes, nil)
        }
        try check(status, "clSetKernelArg(\(kernelName), argument \(index))")
    }
}
