// Device memory: a buffer owned by one object, and a pool that keeps freed buffers by size.
import COpenCL
import Foundation

/// A `cl_mem` owned by this object; returned to its context's pool when the last reference goes.
public final class OpenCLBuffer {
    let mem: cl_mem
    public let bytes: Int
    let context: OpenCLContext  // strong: a tensor may outlive the backend that made it

    init(mem: cl_mem, bytes: Int, context: OpenCLContext) {
        self.mem = mem
        self.bytes = bytes
        self.context = context
    }

    deinit { context.recycle(mem, bytes: bytes) }
}

/// Freed buffers kept by exact byte size, since creating a `cl_mem` per op is slow on every driver.
final class BufferPool {
    private var free: [Int: [cl_mem]] = [:]
    private var heldBytes = 0
    private let limitBytes: Int
    private let lock = NSLock()

    init(limitBytes: Int) { self.limitBytes = limitBytes }

    func take(bytes: Int) -> cl_mem? {
        lock.lock(); defer { lock.unlock() }
        guard let mem = free[bytes]?.popLast() else { return nil }
        heldBytes -= bytes
        return mem
    }

    func give(_ mem: cl_mem, bytes: Int) {
        lock.lock()
        if heldBytes + bytes <= limitBytes {
            free[bytes, default: []].append(mem)
            heldBytes += bytes
            lock.unlock()
        } else {
            lock.unlock()
            clReleaseMemObject(mem)
        }
    }

    func drain() {
        lock.lock(); defer { lock.unlock() }
        for mems in free.values { mems.forEach { clReleaseMemObject($0) } }
        free = [:]
        heldBytes = 0
    }
}
