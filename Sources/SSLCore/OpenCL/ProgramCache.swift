// Programs compiled once per process, their binaries kept on disk across processes.
//
// The disk key is a 64-bit FNV-1a hash of platform, device, driver version, build options and
// source, so a new driver or an edited kernel never loads a stale binary. Each entry carries a
// checksum; an entry that fails it, that the driver refuses, or that lacks a kernel it should
// hold is rebuilt.
import COpenCL
import Foundation
import Kernels

/// The embedded kernel files; each is compiled together with `common.cl`.
enum KernelProgram: String, CaseIterable {
    case elementwise, reduce, softmax, normalize, batchnorm, sinkhorn
    /// The objectives, one file per family (Sources/SSLCore/Losses/).
    case redundancy, contrastive, clustering, distillation
    /// The training ops (Sources/SSLCore/Ops/).
    case layers, optim, eval, knn, augment, primitives
    /// The opt-in TF32 tensor-core GEMM (NVIDIA).
    case gemmTF32 = "gemm_tf32"

    var source: String { KernelSources.common + "\n" + KernelSources.named(rawValue) }
}

/// Compiled programs and kernels of one device, backed by a folder of program binaries.
public final class ProgramCache {
    private let device: OpenCLDeviceInfo
    private var programs: [String: cl_program] = [:]
    private var kernels: [String: cl_kernel] = [:]
    private let lock = NSLock()
    let directory: URL?

    init(device: OpenCLDeviceInfo, directory: URL?) {
        self.device = device
        self.directory = directory
    }

    /// `SSL_KERNEL_CACHE` (a folder, or `off`), else `$XDG_CACHE_HOME/ssl/kernels`, else `~/.cache/ssl/kernels`.
    public static func defaultDirectory() -> URL? {
        let env = ProcessInfo.processInfo.environment
        if let path = env["SSL_KERNEL_CACHE"] {
            return path == "off" || path.isEmpty ? nil : URL(fileURLWithPath: path)
        }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("ssl/kernels")
        }
        guard let home = env["HOME"], !home.isEmpty else { return nil }
        return URL(fileURLWithPath: home).appendingPathComponent(".cache/ssl/kernels")
    }

    /// - Parameter options: build options, e.g. `-D` tile sizes; each distinct value is its own program.
    func kernel(_ name: String, program: KernelProgram, options: String = "", context: cl_context) throws -> cl_kernel {
        let key = program.rawValue + "[" + options + "]/" + name
        lock.lock()
        if let kernel = kernels[key] { lock.unlock(); return kernel }
        lock.unlock()
        var built = try self.program(name: program.rawValue, source: program.source, options: options, context: context)
        var status: cl_int = 0
        var created = clCreateKernel(built, name, &status)
        if created == nil || status != CL_SUCCESS {
            // A disk entry under this key that holds another program (copied or written over) has
            // no such kernel: build from source once, replacing the entry, before giving up.
            built = try self.program(name: program.rawValue, source: program.source, options: options, context: context,
                                     trustingDisk: false)
            created = clCreateKernel(built, name, &status)
        }
        guard let kernel = created, status == CL_SUCCESS else {
            throw SSLError.openCL(call: "clCreateKernel(\(name))", status: status)
        }
        lock.lock(); defer { lock.unlock() }
        if let existing = kernels[key] { clReleaseKernel(kernel); return existing }
        kernels[key] = kernel
        return kernel
    }

    /// The built program, from memory, the disk cache or the source. `trustingDisk: false`
    /// builds from source and replaces both the disk entry and the program in memory.
    func program(name: String, source: String, options: String, context: cl_context,
                 trustingDisk: Bool = true) throws -> cl_program {
        let identity = [device.platformName, device.name, device.driverVersion, device.version, options, source]
            .joined(separator: "\u{0}")
        let hash = String(fnv1a(Array(identity.utf8)), radix: 16)
        let key = name + "-" + hash
        lock.lock()
        if trustingDisk, let program = programs[key] { lock.unlock(); return program }
        lock.unlock()

        let program: cl_program
        if trustingDisk, let cached = try? loadBinary(key: key, options: options, context: context) {
            program = cached
        } else {
            program = try buildFromSource(name: name, source: source, options: options, context: context)
            storeBinary(program, key: key)
        }
        lock.lock(); defer { lock.unlock() }
        if let existing = programs[key] {
            guard !trustingDisk else { clReleaseProgram(program); return existing }
            clReleaseProgram(existing)  // kernels created from it keep it alive
        }
        programs[key] = program
        return program
    }

    func releaseAll() {
        lock.lock(); defer { lock.unlock() }
        kernels.values.forEach { clReleaseKernel($0) }
        programs.values.forEach { clReleaseProgram($0) }
        kernels = [:]
        programs = [:]
    }

    // MARK: - Building

    private func buildFromSource(name: String, source: String, options: String,
                                 context: cl_context) throws -> cl_program {
        var status: cl_int = 0
        let program: cl_program? = source.withCString { cSource in
            var pointer: UnsafePointer<CChar>? = cSource
            var length = strlen(cSource)
            return clCreateProgramWithSource(context, 1, &pointer, &length, &status)
        }
        guard let program, status == CL_SUCCESS else {
            throw SSLError.openCL(call: "clCreateProgramWithSource(\(name))", status: status)
        }
        try build(program, name: name, options: options)
        return program
    }

    private func build(_ program: cl_program, name: String, options: String) throws {
        var id: cl_device_id? = device.id
        let status = clBuildProgram(program, 1, &id, options, nil, nil)
        if status == CL_BUILD_PROGRAM_FAILURE || status == CL_INVALID_BINARY {
            let log = buildLog(program)
            clReleaseProgram(program)
            throw SSLError.buildFailed(program: name, device: device.name, log: log)
        }
        if status != CL_SUCCESS {
            clReleaseProgram(program)
            throw SSLError.openCL(call: "clBuildProgram(\(name))", status: status)
        }
    }

    private func buildLog(_ program: cl_program) -> String {
        var size = 0
        let param = cl_program_build_info(CL_PROGRAM_BUILD_LOG)
        guard clGetProgramBuildInfo(program, device.id, param, 0, nil, &size) == CL_SUCCESS, size > 0 else {
            return "(no build log)"
        }
        var bytes = [CChar](repeating: 0, count: size + 1)
        guard clGetProgramBuildInfo(program, device.id, param, size, &bytes, nil) == CL_SUCCESS else {
            return "(no build log)"
        }
        return String(cString: bytes)
    }

    // MARK: - Disk cache

    private static let magic = Array("SSLCLBIN".utf8)

    private func entryURL(_ key: String) -> URL? {
        directory?.appendingPathComponent(key + ".bin")
    }

    /// Entry layout: magic (8 bytes), FNV-1a of the payload (8, little-endian), payload.
    private func loadBinary(key: String, options: String, context: cl_context) throws -> cl_program? {
        guard let url = entryURL(key), let data = try? Data(contentsOf: url) else { return nil }
        guard let payload = ProgramCache.payload(ofEntry: [UInt8](data)) else {
            try? FileManager.default.removeItem(at: url)
            return nil
        }
        var status: cl_int = 0
        var binaryStatus: cl_int = 0
        var id: cl_device_id? = device.id
        var length = payload.count
        let program: cl_program? = payload.withUnsafeBufferPointer { buffer in
            var pointer: UnsafePointer<UInt8>? = buffer.baseAddress
            return clCreateProgramWithBinary(context, 1, &id, &length, &pointer, &binaryStatus, &status)
        }
        guard let program, status == CL_SUCCESS, binaryStatus == CL_SUCCESS else {
            if let program { clReleaseProgram(program) }
            try? FileManager.default.removeItem(at: url)
            return nil
        }
        do {
            try build(program, name: key, options: options)
        } catch {
            try? FileManager.default.removeItem(at: url)
            return nil
        }
        return program
    }

    /// The program binary inside a cache entry, or nil when the magic or the checksum is wrong.
    static func payload(ofEntry bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count > 16, Array(bytes[0..<8]) == magic else { return nil }
        let stored = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[8 + $1]) << (8 * UInt64($1)) }
        let payload = Array(bytes[16...])
        return stored == fnv1a(payload) ? payload : nil
    }

    /// Writes the program's binary atomically; any failure only costs a rebuild next time.
    private func storeBinary(_ program: cl_program, key: String) {
        guard let url = entryURL(key) else { return }
        var size = 0
        guard clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARY_SIZES), MemoryLayout<Int>.size,
                               &size, nil) == CL_SUCCESS, size > 0 else { return }
        var payload = [UInt8](repeating: 0, count: size)
        let status: cl_int = payload.withUnsafeMutableBufferPointer { buffer in
            var pointer: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARIES),
                                    MemoryLayout<UnsafeMutablePointer<UInt8>>.size, &pointer, nil)
        }
        guard status == CL_SUCCESS else { return }
        let checksum = fnv1a(payload)
        var entry = ProgramCache.magic
        entry += (0..<8).map { UInt8(truncatingIfNeeded: checksum >> (8 * UInt64($0))) }
        entry += payload
        try? AtomicFile.write(Data(entry), to: url)
    }
}

/// 64-bit FNV-1a: a stable hash across processes and platforms (Swift's `Hasher` is seeded per process).
func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
    }
    return hash
}
