// Enumerating OpenCL platforms and devices, and what each device reports about itself.
import COpenCL
import Foundation

/// What an OpenCL device reports about itself, with its position in the platform list.
public struct OpenCLDeviceInfo: CustomStringConvertible {
    public enum Kind: String { case gpu, cpu, accelerator, other }

    public let platformIndex: Int
    public let deviceIndex: Int
    public let platformName: String
    public let name: String
    public let vendor: String
    /// `CL_DRIVER_VERSION`: part of the kernel-cache key, since a new driver may compile differently.
    public let driverVersion: String
    /// `CL_DEVICE_VERSION`, e.g. "OpenCL 3.0 CUDA".
    public let version: String
    public let kind: Kind
    public let globalMemoryBytes: Int
    public let maxAllocationBytes: Int
    public let localMemoryBytes: Int
    public let computeUnits: Int
    public let maxWorkGroupSize: Int
    /// `CL_DEVICE_EXTENSIONS`, split at spaces.
    public let extensions: [String]
    /// Whether `CL_DEVICE_EXECUTION_CAPABILITIES` includes `CL_EXEC_NATIVE_KERNEL`: host functions
    /// run as commands of its queues (PoCL's CPU device does; GPU drivers do not).
    public let runsNativeKernels: Bool
    /// NVIDIA's compute capability (e.g. 9.0 for H100), read through `cl_nv_device_attribute_query`;
    /// nil on other devices.
    public let computeCapability: ComputeCapability?

    /// A CPU device that runs native kernels (PoCL): the library keeps its buffers in host memory
    /// it allocates (OpenCLContext) and runs its GEMMs on the host BLAS there (``GemmVariant/blas``).
    public var sharesHostMemory: Bool { kind == .cpu && runsNativeKernels }
    let id: cl_device_id

    /// Whether the compiler takes inline PTX (`asm`): NVIDIA's OpenCL, which alone reports
    /// `cl_nv_pragma_unroll`; the TF32 GEMM's kernel tests the same macro.
    public var acceptsInlinePTX: Bool { extensions.contains("cl_nv_pragma_unroll") }

    /// Oclgrind, the simulator `scripts/oclgrind.sh` checks kernels on. Its uninitialised-value
    /// check (21.10) keeps one shadow range per buffer, replaced by each host-side store, so a
    /// store to part of a buffer (a fill, which it runs element by element, or a copy at an
    /// offset) leaves the rest "uninitialised"; the backend runs those as kernels there.
    public var isOclgrind: Bool { platformName == "Oclgrind" }

    /// Whether the TF32 GEMM runs here: inline PTX and `mma.sync` on TF32, i.e. NVIDIA sm_80 or later.
    public var runsTF32: Bool { tf32Problem == nil }

    /// Why the TF32 GEMM cannot run here, or nil when it can.
    public var tf32Problem: String? {
        Self.tf32Problem(acceptsInlinePTX: acceptsInlinePTX, computeCapability: computeCapability,
                         device: "\(name) on \(platformName)")
    }

    static func tf32Problem(acceptsInlinePTX: Bool, computeCapability: ComputeCapability?, device: String) -> String? {
        guard acceptsInlinePTX else {
            return "it runs inline PTX and needs NVIDIA's OpenCL driver; \(device) is not one"
        }
        guard let capability = computeCapability else {
            return "it needs compute capability 8.0 or later, and \(device) does not report one "
                + "(no cl_nv_device_attribute_query)"
        }
        guard capability >= ComputeCapability(major: 8, minor: 0) else {
            return "mma.sync on TF32 needs compute capability 8.0 or later (Ampere); \(device) has \(capability)"
        }
        return nil
    }

    /// The `opencl:P:D` spelling that selects this device.
    public var spec: String { "opencl:\(platformIndex):\(deviceIndex)" }

    public var description: String { "\(name) [\(platformName), \(spec)]" }
}

/// An OpenCL platform and its devices; a platform may list none, and `noDevices` says why.
public struct OpenCLPlatform {
    public let index: Int
    public let name: String
    public let devices: [OpenCLDeviceInfo]
    /// Why the platform has no device (the status of `clGetDeviceIDs`, and a hint for PoCL),
    /// or nil when it has some.
    public let noDevices: String?
}

/// The OpenCL platforms and devices the ICD loader knows about.
public enum OpenCLDevices {
    /// Every device of every platform, in loader order.
    ///
    /// - Throws: ``SSLError/noOpenCLPlatform`` when the loader finds no platform.
    public static func all() throws -> [OpenCLDeviceInfo] { try platforms().flatMap(\.devices) }

    /// Every platform with its devices, in loader order, including platforms without a device.
    ///
    /// - Throws: ``SSLError/noOpenCLPlatform`` when the loader finds no platform.
    public static func platforms() throws -> [OpenCLPlatform] {
        var platformCount: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &platformCount)
        if status == CL_PLATFORM_NOT_FOUND_KHR || platformCount == 0 { throw SSLError.noOpenCLPlatform }
        try check(status, "clGetPlatformIDs")
        var platforms = [cl_platform_id?](repeating: nil, count: Int(platformCount))
        try check(clGetPlatformIDs(platformCount, &platforms, nil), "clGetPlatformIDs")

        return try platforms.enumerated().map { p, platform in
            let platformName = try platformString(platform, CL_PLATFORM_NAME)
            var deviceCount: cl_uint = 0
            let st = clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &deviceCount)
            if st == CL_DEVICE_NOT_FOUND || deviceCount == 0 {
                // PoCL lists no device when it cannot create its kernel cache, and says so only
                // with POCL_DEBUG set.
                let hint = platformName.contains("Portable Computing Language")
                    ? "; PoCL reports none when it cannot create its kernel cache: POCL_CACHE_DIR, else "
                        + "XDG_CACHE_HOME or HOME, must name a writable folder (POCL_DEBUG=1 shows its error)"
                    : ""
                return OpenCLPlatform(index: p, name: platformName, devices: [],
                                      noDevices: "clGetDeviceIDs: \(CLStatus.name(st == CL_SUCCESS ? CL_DEVICE_NOT_FOUND : st))" + hint)
            }
            try check(st, "clGetDeviceIDs")
            var devices = [cl_device_id?](repeating: nil, count: Int(deviceCount))
            try check(clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), deviceCount, &devices, nil),
                      "clGetDeviceIDs")
            let infos = try devices.enumerated().compactMap { d, device in
                try device.map { try info($0, platformIndex: p, deviceIndex: d, platformName: platformName) }
            }
            return OpenCLPlatform(index: p, name: platformName, devices: infos, noDevices: nil)
        }
    }

    static func info(_ device: cl_device_id, platformIndex: Int, deviceIndex: Int,
                     platformName: String) throws -> OpenCLDeviceInfo {
        let type: cl_device_type = try deviceScalar(device, CL_DEVICE_TYPE)
        let kind: OpenCLDeviceInfo.Kind =
            type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 ? .gpu
            : type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 ? .cpu
            : type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 ? .accelerator : .other
        let global: cl_ulong = try deviceScalar(device, CL_DEVICE_GLOBAL_MEM_SIZE)
        let maxAlloc: cl_ulong = try deviceScalar(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE)
        let local: cl_ulong = try deviceScalar(device, CL_DEVICE_LOCAL_MEM_SIZE)
        let units: cl_uint = try deviceScalar(device, CL_DEVICE_MAX_COMPUTE_UNITS)
        let workGroup: Int = try deviceScalar(device, CL_DEVICE_MAX_WORK_GROUP_SIZE)
        let execution: cl_device_exec_capabilities = try deviceScalar(device, CL_DEVICE_EXECUTION_CAPABILITIES)
        let extensions = try deviceString(device, CL_DEVICE_EXTENSIONS).split(separator: " ").map(String.init)
        var capability: ComputeCapability? = nil
        if extensions.contains("cl_nv_device_attribute_query") {
            let major: cl_uint = try deviceScalar(device, CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV)
            let minor: cl_uint = try deviceScalar(device, CL_DEVICE_COMPUTE_CAPABILITY_MINOR_NV)
            capability = ComputeCapability(major: Int(major), minor: Int(minor))
        }
        return OpenCLDeviceInfo(
            platformIndex: platformIndex, deviceIndex: deviceIndex, platformName: platformName,
            name: try deviceString(device, CL_DEVICE_NAME),
            vendor: try deviceString(device, CL_DEVICE_VENDOR),
            driverVersion: try deviceString(device, CL_DRIVER_VERSION),
            version: try deviceString(device, CL_DEVICE_VERSION),
            kind: kind, globalMemoryBytes: Int(global), maxAllocationBytes: Int(maxAlloc),
            localMemoryBytes: Int(local), computeUnits: Int(units), maxWorkGroupSize: workGroup,
            extensions: extensions,
            runsNativeKernels: execution & cl_device_exec_capabilities(CL_EXEC_NATIVE_KERNEL) != 0,
            computeCapability: capability, id: device)
    }

    private static func platformString(_ platform: cl_platform_id?, _ param: Int32) throws -> String {
        var size = 0
        try check(clGetPlatformInfo(platform, cl_platform_info(param), 0, nil, &size), "clGetPlatformInfo")
        var bytes = [CChar](repeating: 0, count: size + 1)
        try check(clGetPlatformInfo(platform, cl_platform_info(param), size, &bytes, nil), "clGetPlatformInfo")
        return trimmed(bytes)
    }

    static func deviceString(_ device: cl_device_id, _ param: Int32) throws -> String {
        var size = 0
        try check(clGetDeviceInfo(device, cl_device_info(param), 0, nil, &size), "clGetDeviceInfo")
        var bytes = [CChar](repeating: 0, count: size + 1)
        try check(clGetDeviceInfo(device, cl_device_info(param), size, &bytes, nil), "clGetDeviceInfo")
        return trimmed(bytes)
    }

    static func deviceScalar<T: FixedWidthInteger>(_ device: cl_device_id, _ param: Int32) throws -> T {
        var value: T = 0
        try check(clGetDeviceInfo(device, cl_device_info(param), MemoryLayout<T>.size, &value, nil),
                  "clGetDeviceInfo")
        return value
    }

    private static func trimmed(_ bytes: [CChar]) -> String {
        String(cString: bytes).trimmingCharacters(in: .whitespaces)
    }
}

/// An NVIDIA compute capability, major.minor.
public struct ComputeCapability: Comparable, CustomStringConvertible, Sendable {
    public let major: Int, minor: Int
    public init(major: Int, minor: Int) { self.major = major; self.minor = minor }
    public static func < (a: Self, b: Self) -> Bool { (a.major, a.minor) < (b.major, b.minor) }
    public var description: String { "\(major).\(minor)" }
}
