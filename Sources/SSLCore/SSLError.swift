// Every error a user can cause: a device choice, a file, a shape, a kernel that does not build.
import CLSystem
import COpenCL

/// An error from the SSL runtime, its ops or its file formats.
///
/// Each case carries what a user needs to fix the cause: the OpenCL call and status name,
/// the build log, both shapes of a mismatch, the file that could not be read.
public enum SSLError: Error, CustomStringConvertible, Equatable {
    /// An OpenCL call returned a status other than `CL_SUCCESS`.
    case openCL(call: String, status: Int32)
    /// A CLBlast routine returned a status other than `CLBlastSuccess`.
    case clblast(call: String, status: Int32)
    /// An OpenCL C program failed to compile; `log` is the compiler's build log.
    case buildFailed(program: String, device: String, log: String)
    /// The ICD loader found no OpenCL platform at all.
    case noOpenCLPlatform
    /// A `--device` / `SSL_DEVICE` value that names nothing usable.
    case unknownDevice(spec: String, reason: String)
    /// A buffer larger than the device's `CL_DEVICE_MAX_MEM_ALLOC_SIZE`.
    case allocationTooLarge(bytes: Int, limit: Int, device: String)
    /// A kernel launch beyond what the device runs: more work-items per group than the kernel may
    /// have there (`CL_KERNEL_WORK_GROUP_SIZE`, `CL_DEVICE_MAX_WORK_GROUP_SIZE`) or more local
    /// memory than the device has; `detail` says which, with both numbers.
    case exceedsDeviceLimits(kernel: String, device: String, detail: String)
    /// A size given by the user (a width, a queue, a shape) that would take more host memory than
    /// ``HostMemory/limitBytes``.
    case tooLargeForHost(what: String, bytes: Int, limit: Int)
    /// Operand shapes that do not fit together.
    case shapeMismatch(op: String, detail: String)
    /// A tensor that belongs to another backend than the one asked to compute with it.
    case wrongBackend(op: String, expected: String, found: String)
    /// Any other invalid argument (a negative iteration count, a zero epsilon, …).
    case invalidArgument(op: String, detail: String)
    /// NaN or Inf where a finite value is required.
    case nonFinite(what: String)
    /// A `.npy` file that cannot be read or written.
    case npy(file: String, reason: String)
    /// A file that cannot be read or written for a reason outside its format.
    case file(path: String, reason: String)
    /// An MPI call (or loading libmpi) failed; `message` is MPI's error string or the loader's.
    case mpi(call: String, message: String)

    public var description: String {
        switch self {
        case let .openCL(call, status):
            return "\(call) failed: \(CLStatus.name(status)) (\(status))"
        case let .clblast(call, status):
            return "\(call) failed: \(CLStatus.clblastName(status)) (\(status))"
        case let .buildFailed(program, device, log):
            return "OpenCL program '\(program)' failed to build on \(device):\n\(log)"
        case .noOpenCLPlatform:
            return "no OpenCL platform found: install an ICD loader and a driver "
                + "(apt-get install ocl-icd-opencl-dev pocl-opencl-icd for any CPU, or your GPU vendor's OpenCL driver), "
                + "or run on the CPU reference backend with --device reference"
        case let .unknownDevice(spec, reason):
            return "device '\(spec)': \(reason)"
        case let .allocationTooLarge(bytes, limit, device):
            return "cannot allocate \(bytes) bytes on \(device): the device allows at most \(limit) bytes per buffer"
        case let .exceedsDeviceLimits(kernel, device, detail):
            return "kernel '\(kernel)' does not fit \(device): \(detail)"
        case let .tooLargeForHost(what, bytes, limit):
            let size = bytes == .max ? "more bytes than can be counted" : "\(bytes) bytes"
            return "\(what) needs \(size) of host memory, more than the \(limit) bytes (half of this machine's) allowed"
        case let .shapeMismatch(op, detail):
            return "\(op): shape mismatch: \(detail)"
        case let .wrongBackend(op, expected, found):
            return "\(op): tensor lives on \(found), but the op runs on \(expected); copy it over first"
        case let .invalidArgument(op, detail):
            return "\(op): \(detail)"
        case let .nonFinite(what):
            return "\(what) contains NaN or Inf"
        case let .npy(file, reason):
            return "\(file): \(reason)"
        case let .file(path, reason):
            return "\(path): \(reason)"
        case let .mpi(call, message):
            return "\(call) failed: \(message)"
        }
    }
}

/// Readable names for OpenCL and CLBlast status codes.
public enum CLStatus {
    /// `CL_INVALID_VALUE` for -30, `CL_UNKNOWN_STATUS` for a code the headers do not define.
    public static func name(_ status: Int32) -> String {
        guard let name = copencl_status_name(status) else { return "CL_UNKNOWN_STATUS" }
        return String(cString: name)
    }

    /// `CLBlastInvalidDimension` for -1017; OpenCL names for the codes CLBlast shares with OpenCL.
    public static func clblastName(_ status: Int32) -> String {
        guard let name = copencl_clblast_status_name(status) else { return "CLBlastUnknownStatus" }
        return String(cString: name)
    }
}

/// Throws ``SSLError/openCL(call:status:)`` unless `status` is `CL_SUCCESS`.
@inline(__always)
func check(_ status: cl_int, _ call: @autoclosure () -> String) throws {
    if status != CL_SUCCESS { throw SSLError.openCL(call: call(), status: status) }
}
