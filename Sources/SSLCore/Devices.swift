// Choosing where to compute: --device / SSL_DEVICE values and the backend they give.
import Foundation

/// A device choice, as written after `--device` or in `SSL_DEVICE`.
public enum DeviceSpec: Equatable, CustomStringConvertible {
    /// The first GPU, else any OpenCL device, else the reference backend.
    case auto
    /// The first OpenCL GPU; an error when there is none.
    case gpu
    /// Any OpenCL device, a GPU first.
    case openCL
    /// Platform `P`, device `D`, as `ssl devices` numbers them.
    case openCLIndex(platform: Int, device: Int)
    /// The pure-Swift CPU reference.
    case reference

    public static let help = "auto | gpu | opencl | opencl:P:D | reference"

    public init(parsing text: String) throws {
        let t = text.lowercased()
        switch t {
        case "auto", "": self = .auto
        case "gpu": self = .gpu
        case "opencl": self = .openCL
        case "reference", "ref", "cpu-reference": self = .reference
        default:
            let parts = t.split(separator: ":", omittingEmptySubsequences: false)
            if parts.count == 3, parts[0] == "opencl", let p = Int(parts[1]), let d = Int(parts[2]), p >= 0, d >= 0 {
                self = .openCLIndex(platform: p, device: d)
            } else {
                throw SSLError.unknownDevice(spec: text, reason: "expected one of \(DeviceSpec.help)")
            }
        }
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .gpu: return "gpu"
        case .openCL: return "opencl"
        case let .openCLIndex(p, d): return "opencl:\(p):\(d)"
        case .reference: return "reference"
        }
    }
}

/// Making backends from device choices.
public enum Devices {
    /// The environment variable read when no `--device` is given.
    public static let environmentVariable = "SSL_DEVICE"

    /// The backend for `spec`, or for `SSL_DEVICE` when `spec` is nil, or `auto`.
    /// - Parameters:
    ///   - spec: `auto`, `gpu`, `opencl`, `opencl:P:D` or `reference` (``DeviceSpec``).
    ///   - localRank: the process's index among a data-parallel job's processes on this
    ///     host: `auto` and `gpu` then take GPU `localRank mod #GPUs`, one GPU per rank.
    public static func backend(for spec: String?, localRank: Int = 0) throws -> any Backend {
        let text = spec ?? ProcessInfo.processInfo.environment[environmentVariable] ?? "auto"
        return try backend(for: try DeviceSpec(parsing: text), localRank: localRank)
    }

    public static func backend(for spec: DeviceSpec, localRank: Int = 0) throws -> any Backend {
        switch spec {
        case .reference:
            return ReferenceBackend()
        case .auto:
            guard let device = preferred((try? OpenCLDevices.all()) ?? [], localRank: localRank) else { return ReferenceBackend() }
            return try OpenCLBackend(device: device)
        default:
            return try OpenCLBackend(device: try resolve(spec, localRank: localRank))
        }
    }

    /// The OpenCL device `spec` names; throws for `reference` and for choices nothing matches.
    public static func resolve(_ spec: DeviceSpec, localRank: Int = 0) throws -> OpenCLDeviceInfo {
        let devices = try OpenCLDevices.all()
        let listing = devices.map { "\($0.spec) \($0.name) (\($0.kind.rawValue))" }.joined(separator: "; ")
        switch spec {
        case .reference:
            throw SSLError.unknownDevice(spec: "reference", reason: "the reference backend is not an OpenCL device")
        case .auto, .openCL:
            guard let device = preferred(devices, localRank: localRank) else { throw SSLError.noOpenCLPlatform }
            return device
        case .gpu:
            let gpus = devices.filter { $0.kind == .gpu }
            guard let device = gpus.isEmpty ? nil : gpus[localRank % gpus.count] else {
                throw SSLError.unknownDevice(spec: "gpu", reason: "no OpenCL GPU found (devices: \(listing.isEmpty ? "none" : listing)); use --device opencl or --device reference")
            }
            return device
        case let .openCLIndex(p, d):
            guard let device = devices.first(where: { $0.platformIndex == p && $0.deviceIndex == d }) else {
                throw SSLError.unknownDevice(spec: spec.description, reason: "no such OpenCL device (devices: \(listing.isEmpty ? "none" : listing))")
            }
            return device
        }
    }

    /// GPU `localRank mod #GPUs` (the first GPU for one process), else the first device.
    public static func preferred(_ devices: [OpenCLDeviceInfo], localRank: Int = 0) -> OpenCLDeviceInfo? {
        let gpus = devices.filter { $0.kind == .gpu }
        return gpus.isEmpty ? devices.first : gpus[max(localRank, 0) % gpus.count]
    }
}
