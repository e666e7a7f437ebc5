// One OpenCL context and one in-order, profiling-enabled queue per device, with the
// device's programs, kernels and a pool of buffers.
import CHostBLAS
import COpenCL
import Foundation

/// The OpenCL state for one device: context, in-order queue, compiled programs, buffer pool.
///
/// Work is enqueued without waiting; the host blocks only when it reads a result
/// (``OpenCLBackend/download(_:)``) or calls ``finish()``.
///
/// One context serves any number of threads and tasks (hence `@unchecked Sendable`): kernel
/// launches (arguments and enqueue together), CLBlast calls, the buffer pool, the program cache
/// and the timing records each sit under a lock, and every command goes to the one in-order
/// queue, so each thread's ops run in the order it enqueued them.
public final class OpenCLContext: @unchecked Sendable {
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
    /// Guards `timing` and `profile`, which any enqueue (kernel, fill, copy, GEMM) adds to.
    private let eventLock = NSLock()
    /// The events of a ``beginTiming()`` span.
    private var timing: [cl_event]? = nil
    /// The commands of a ``beginProfile()`` span, by name.
    private var profile: DeviceProfiler? = nil

    /// - Parameters:
    ///   - device: the device, from ``OpenCLDevices/all()`` or ``Devices/resolve(_:localRank:)``.
    ///   - kernelCache: where compiled program binaries persist; the default is
    ///     `SSL_KERNEL_CACHE`, else `$XDG_CACHE_HOME/ssl/kernels`, else `~/.cache/ssl/kernels`; nil for none.
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
        Self.clearCLBlastAtExit
    }

    /// CLBlast keeps the programs it built for every context in a static cache, which C++ destroys
    /// at exit after the OpenCL implementation's own statics: releasing them then corrupts the heap
    /// (Oclgrind: "corrupted double-linked list" in `Program::~Program`). An exit handler
    /// registered after both libraries loaded runs before either's destructors, so it empties the
    /// cache while the implementation is intact.
    private static let clearCLBlastAtExit: Void = { atexit { _ = OpenCLContext.withCLBlast { CLBlastClearCache() } } }()

    /// Runs a CLBlast call under one process-wide lock. CLBlast keeps process-wide caches of
    /// programs, binaries and parameter databases, and 1.5.3 (Debian's) was not written for
    /// concurrent callers (upstream later fixed a race in its cache: CNugteren/CLBlast#495). Here
    /// one full test run in three had a GEMM fail with CLBlastUnexpectedError while other threads
    /// built GEMM programs and cleared the cache (deinit); with every call under this lock, none
    /// in six. Once a program is built a call only enqueues, so the lock is held for microseconds.
    static func withCLBlast<T>(_ body: () throws -> T) rethrows -> T {
        clblastLock.lock(); defer { clblastLock.unlock() }
        return try body()
    }

    private static let clblastLock = NSLock()

    deinit {
        if let queue { clFinish(queue) }
        pool.drain()
        programs.releaseAll()
        // CLBlast's cached programs hold this context; they go before it, in dependency order.
        _ = Self.withCLBlast { CLBlastClearCache() }
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
        var mem = createBuffer(size, &status)
        if status == CL_MEM_OBJECT_ALLOCATION_FAILURE || status == CL_OUT_OF_RESOURCES || status == CL_OUT_OF_HOST_MEMORY {
            pool.drain()  // cached buffers may be what fills the device
            mem = createBuffer(size, &status)
        }
        guard let mem, status == CL_SUCCESS else {
            throw SSLError.openCL(call: "clCreateBuffer(\(size) bytes on \(device.name))", status: status)
        }
        return OpenCLBuffer(mem: mem, bytes: size, context: self)
    }

    /// Over host memory the library allocates (CHostBLAS) where the device shares it, so that the
    /// host-BLAS GEMM can reach the buffers.
    private func createBuffer(_ bytes: Int, _ status: inout cl_int) -> cl_mem? {
        device.sharesHostMemory
            ? hostblas_create_buffer(context, bytes, &status)
            : clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &status)
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
            record(event, name: name)
        }
        for (index, argument) in arguments.enumerated() {
            try argument.set(on: kernel, index: cl_uint(index), kernelName: name)
        }
        if let local { try checkFits(kernel, name: name, workItems: local.reduce(1, *)) }
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

    /// The most work-items per group `kernel` may have here: its `CL_KERNEL_WORK_GROUP_SIZE`
    /// (what its registers and local memory leave) within the device's limit.
    func maxGroupSize(_ kernel: cl_kernel) throws -> Int {
        let kernelMax: Int = try groupInfo(kernel, CL_KERNEL_WORK_GROUP_SIZE)
        return min(device.maxWorkGroupSize, max(kernelMax, 1))
    }

    /// Refuses groups the device cannot run with an error naming the limit, where the driver
    /// would answer CL_INVALID_WORK_GROUP_SIZE or CL_OUT_OF_RESOURCES (or, on some, fail later).
    /// Called once the arguments are set: `CL_KERNEL_LOCAL_MEM_SIZE` then counts the kernel's own
    /// local arrays and its local arguments together (PoCL and Oclgrind, probed).
    private func checkFits(_ kernel: cl_kernel, name: String, workItems: Int) throws {
        let maxItems = try maxGroupSize(kernel)
        guard workItems <= maxItems else {
            throw SSLError.exceedsDeviceLimits(
                kernel: name, device: device.name,
                detail: "groups of \(workItems) work-items, but it runs at most \(maxItems) per group there")
        }
        let localBytes: cl_ulong = try groupInfo(kernel, CL_KERNEL_LOCAL_MEM_SIZE)
        guard localBytes <= device.localMemoryBytes else {
            throw SSLError.exceedsDeviceLimits(
                kernel: name, device: device.name,
                detail: "\(localBytes) bytes of local memory per group, but the device has \(device.localMemoryBytes)")
        }
    }

    private func groupInfo<T: FixedWidthInteger>(_ kernel: cl_kernel, _ param: Int32) throws -> T {
        var value: T = 0
        try check(clGetKernelWorkGroupInfo(kernel, device.id, cl_kernel_work_group_info(param),
                                           MemoryLayout<T>.size, &value, nil), "clGetKernelWorkGroupInfo")
        return value
    }

    /// While timing, enqueues a marker so that the span covers work whose events are not returned
    /// (CLBlast returns the event of its last kernel only, e.g. the final copy of a padded C).
    func markStart() throws {
        eventLock.lock()
        let timed = timing != nil
        eventLock.unlock()
        guard timed else { return }
        var event: cl_event? = nil
        try check(clEnqueueMarkerWithWaitList(queue, 0, nil, &event), "clEnqueueMarkerWithWaitList")
        record(event, name: "marker")
    }

    /// Keeps `event` for ``endTiming()`` and ``endProfile()`` while either is open, else releases it.
    /// - Parameters:
    ///   - name: the command's row in the profile (the kernel's name, "gemm (CLBlast)", "copy", …).
    ///   - bytes: bytes moved between host and device, for uploads and downloads.
    func record(_ event: cl_event?, name: String, bytes: Int = 0) {
        guard let event else { return }
        eventLock.lock(); defer { eventLock.unlock() }
        if timing != nil {
            clRetainEvent(event)
            timing!.append(event)
        }
        if profile != nil { profile!.add(event, name: name, bytes: bytes) } else { clReleaseEvent(event) }
    }

    // MARK: - Timing by profiling events

    /// Starts collecting the events of every command enqueued from now on.
    public func beginTiming() {
        eventLock.lock(); defer { eventLock.unlock() }
        timing = []
    }

    /// Waits for the collected commands and returns the device time from the first one's start
    /// to the last one's end, in seconds.
    public func endTiming() throws -> Double {
        try finish()
        eventLock.lock()
        let events = timing ?? []
        timing = nil
        eventLock.unlock()
        defer { events.forEach { clReleaseEvent($0) } }
        var first = cl_ulong.max, last = cl_ulong(0)
        for event in events {
            let (start, end) = try eventSpan(event)
            first = min(first, start)
            last = max(last, end)
        }
        return events.isEmpty ? 0 : Double(last - first) * 1e-9
    }

    /// Starts a profile: every command enqueued from now on is timed by its profiling event and
    /// summed under its name until ``endProfile()``.
    public func beginProfile() {
        eventLock.lock(); defer { eventLock.unlock() }
        profile = DeviceProfiler()
    }

    /// Waits for the profiled commands and returns device time and transfers by command name.
    public func endProfile() throws -> DeviceProfile {
        try finish()
        eventLock.lock()
        var profiler = profile ?? DeviceProfiler()
        profile = nil
        eventLock.unlock()
        return try profiler.finish()
    }
}

/// A command's start and end on the device clock, in nanoseconds.
func eventSpan(_ event: cl_event) throws -> (start: cl_ulong, end: cl_ulong) {
    var start: cl_ulong = 0, end: cl_ulong = 0
    try check(clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_START),
                                      MemoryLayout<cl_ulong>.size, &start, nil), "clGetEventProfilingInfo")
    try check(clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_END),
                                      MemoryLayout<cl_ulong>.size, &end, nil), "clGetEventProfilingInfo")
    return (start, max(start, end))
}

/// One argument of a kernel launch.
enum KernelArgument {
    case buffer(OpenCLBuffer)
    case int(Int32)
    case float(Float)
    /// An OpenCL `int8`: up to eight values (a shape or strides), zeros after them.
    case int8([Int32])
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
        case .int8(let values):
            var vector = (values + [Int32](repeating: 0, count: 8)).prefix(8).map { $0 }
            status = vector.withUnsafeMutableBytes { clSetKernelArg(kernel, index, $0.count, $0.baseAddress) }
        case .local(let bytes):
            status = clSetKernelArg(kernel, index, bytes, nil)
        }
        try check(status, "clSetKernelArg(\(kernelName), argument \(index))")
    }
}
