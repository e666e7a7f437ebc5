// Tuned CLBlast GEMM parameters: the file format of Tuning/*.json, the lookup by device and
// driver (an extra file from SSL_GEMM_TUNING, then the embedded ones), and applying them with
// CLBlastOverrideParameters, which takes all of one kernel's parameters at once.
import CCLBlastParameters
import COpenCL
import Foundation
import Tuning

/// CLBlast's parameters for single-precision GEMM measured on one device and driver: one
/// `Tuning/<device>--<driver>.json` file, written by ``GemmTuner`` (`ssl tune`).
///
/// ```json
/// {"device": "NVIDIA H200", "driver": "570.124.06", "platform": "NVIDIA CUDA", "date": "2026-12-01",
///  "command": "ssl tune --budget 90",
///  "kernels": {"Xgemm": {"GEMMK": 0, "KREG": 1, …}, "XgemmDirect": {…}, "GemmRoutine": {"XGEMM_MIN_INDIRECT_SIZE": 640}},
///  "measured": {"Xgemm": {"size": [4096, 4096, 4096], "gflops": 41000, "baseline_gflops": 31000, "candidates": 60}}}
/// ```
public struct GemmTuning: Codable, Equatable, Sendable {
    /// `CL_DEVICE_NAME`, `CL_DRIVER_VERSION` and the platform's name where it was measured.
    public var device: String, driver: String, platform: String
    /// The device's type (``OpenCLDeviceInfo/Kind``: "cpu", "gpu", …); nil in older files. A CPU
    /// file serves every CPU of its platform that has none of its own.
    public var kind: String?
    /// When and by which command (for the record; not read back).
    public var date: String, command: String
    /// Every parameter of each CLBlast kernel named: `Xgemm`, `XgemmDirect`, `GemmRoutine`.
    public var kernels: [String: [String: Int]]
    /// What was measured for each kernel.
    public var measured: [String: Measurement]
    /// The forms of the ops with several that ran fastest here (`ssl tune`); nil in files
    /// written before they were measured.
    public var paths: TunedPaths?

    /// One kernel's search: at which size, how fast the best and the parameters in use before
    /// (GFLOP/s, 2·M·N·K per second of device time), and how many candidates ran. For
    /// `GemmRoutine`: the indirect (`gflops`) and the direct kernel (`baseline_gflops`) at the
    /// first measured size from `XGEMM_MIN_INDIRECT_SIZE` on.
    public struct Measurement: Codable, Equatable, Sendable {
        public var size: [Int]
        public var gflops: Double
        public var baselineGflops: Double
        public var candidates: Int

        enum CodingKeys: String, CodingKey {
            case size, gflops, candidates
            case baselineGflops = "baseline_gflops"
        }

        public init(size: [Int], gflops: Double, baselineGflops: Double, candidates: Int) {
            (self.size, self.gflops, self.baselineGflops, self.candidates) = (size, gflops, baselineGflops, candidates)
        }
    }

    public init(device: String, driver: String, platform: String, kind: String? = nil, date: String, command: String,
                kernels: [String: [String: Int]], measured: [String: Measurement], paths: TunedPaths? = nil) {
        (self.device, self.driver, self.platform, self.kind) = (device, driver, platform, kind)
        (self.date, self.command) = (date, command)
        (self.kernels, self.measured, self.paths) = (kernels, measured, paths)
    }

    /// The parameter names of each kernel this library tunes, as CLBlast 1.5's database holds
    /// them (`CLBlastOverrideParameters` refuses a kernel given fewer).
    public static let parameterNames: [String: [String]] = [
        "Xgemm": ["GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB", "NDIMC", "NWG",
                  "SA", "SB", "STRM", "STRN", "VWM", "VWN"],
        "XgemmDirect": ["KWID", "MDIMAD", "MDIMCD", "NDIMBD", "NDIMCD", "PADA", "PADB", "VWMD", "VWND", "WGD"],
        "GemmRoutine": ["XGEMM_MIN_INDIRECT_SIZE"],
    ]

    /// `<device>--<driver>.json` with every character but letters, digits, `.`, `_` and `-` as `_`.
    public static func fileName(device: String, driver: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        let clean = { (s: String) in String(s.map { allowed.contains($0) ? $0 : "_" }) }
        return clean(device) + "--" + clean(driver) + ".json"
    }

    /// Reads and checks a tuning file's bytes.
    /// - Parameters:
    ///   - bytes: the file's contents.
    ///   - source: the file's name or path, for the error.
    /// - Throws: ``SSLError/file(path:reason:)`` naming `source` when the bytes are no tuning file:
    ///   not JSON, a key missing, an unknown kernel, a parameter missing or negative, or Xgemm
    ///   parameters that break CLBlast's constraints (which would fail to compile at the first GEMM).
    public static func parse(_ bytes: [UInt8], source: String) throws -> GemmTuning {
        let tuning: GemmTuning
        do {
            tuning = try JSONDecoder().decode(GemmTuning.self, from: Data(bytes))
        } catch let DecodingError.keyNotFound(key, _) {
            throw SSLError.file(path: source, reason: "not a GEMM tuning file: the key '\(key.stringValue)' is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw SSLError.file(path: source, reason: "not a GEMM tuning file: '\(path)' has the wrong type")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw SSLError.file(path: source, reason: "not a GEMM tuning file: '\(path)' has an invalid value")
        } catch {
            throw SSLError.file(path: source, reason: "not a GEMM tuning file: not valid JSON")
        }
        if let problem = tuning.paths?.problem {
            throw SSLError.file(path: source, reason: "paths: \(problem)")
        }
        for (kernel, parameters) in tuning.kernels.sorted(by: { $0.key < $1.key }) {
            guard let names = parameterNames[kernel] else {
                throw SSLError.file(path: source, reason: "unknown CLBlast kernel '\(kernel)'; tuned kernels are "
                                    + parameterNames.keys.sorted().joined(separator: ", "))
            }
            if let missing = names.first(where: { parameters[$0] == nil }) {
                throw SSLError.file(path: source, reason: "\(kernel) lacks the parameter \(missing) (it needs \(names.joined(separator: " ")))")
            }
            if let extra = parameters.keys.sorted().first(where: { !names.contains($0) }) {
                throw SSLError.file(path: source, reason: "\(kernel) has no parameter \(extra)")
            }
            if let negative = parameters.sorted(by: { $0.key < $1.key }).first(where: { $0.value < 0 }) {
                throw SSLError.file(path: source, reason: "\(kernel) \(negative.key) is \(negative.value), not a size")
            }
            if let broken = GemmSearchSpace.brokenConstraint(kernel: kernel, parameters) {
                throw SSLError.file(path: source, reason: "\(kernel) breaks CLBlast's constraint \(broken)")
            }
        }
        return tuning
    }

    /// Serialised as `ssl tune` writes it: sorted keys, two-space indent, a final newline.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data("\n".utf8)
    }
}

/// The tuning a device uses, and where it comes from.
public struct GemmTuningSelection: Equatable, Sendable {
    /// The embedded file's name (`Tuning/…`) or the path given in `SSL_GEMM_TUNING`.
    public let source: String
    public let tuning: GemmTuning
    /// False when the file was measured with another driver version of the same device.
    public let driverMatches: Bool
    /// False when the file was measured on another CPU of the same platform (a CPU without a file
    /// of its own takes one).
    public let deviceMatches: Bool

    public init(source: String, tuning: GemmTuning, driverMatches: Bool, deviceMatches: Bool = true) {
        (self.source, self.tuning, self.driverMatches, self.deviceMatches) = (source, tuning, driverMatches, deviceMatches)
    }

    public var summary: String {
        let driver = deviceMatches ? driverMatches ? "" : ", measured with driver \(tuning.driver)" : ", measured on \(tuning.device)"
        let best = tuning.measured["Xgemm"].map { m in
            String(format: ", Xgemm %.0f GFLOP/s at %@ (was %.0f)", m.gflops, m.size.map(String.init).joined(separator: "x"), m.baselineGflops)
        } ?? ""
        return "\(source) (\(tuning.date)\(best)\(driver))"
    }
}

/// Finding and applying tuning files.
public enum GemmTunings {
    /// A path to one more tuning file, looked at before the embedded ones; `off` disables all of them.
    public static let environmentVariable = "SSL_GEMM_TUNING"

    /// Every tuning file in order of precedence: `SSL_GEMM_TUNING`'s, then the embedded ones.
    /// - Throws: ``SSLError/file(path:reason:)`` naming a file that cannot be read or is no tuning file.
    public static func files(environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> [(source: String, tuning: GemmTuning)] {
        var result: [(source: String, tuning: GemmTuning)] = []
        if let path = environment[environmentVariable], !path.isEmpty {
            if path == "off" { return [] }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SSLError.file(path: path, reason: "cannot read the GEMM tuning file named by \(environmentVariable)")
            }
            result.append((path, try GemmTuning.parse([UInt8](data), source: path)))
        }
        for file in TuningFiles.all {
            result.append(("Tuning/" + file.name, try GemmTuning.parse(file.bytes, source: "Tuning/" + file.name)))
        }
        return result
    }

    /// The file for `device`: `SSL_GEMM_TUNING`'s when it is for this device name (whatever its
    /// driver: it was asked for), else the embedded one of the same name and driver, else one of
    /// the same name; for a CPU without one, a file measured on another CPU of its platform (PoCL
    /// compiles CLBlast's kernels for whichever x86 CPU runs them) whose parameters fit its limits.
    public static func selection(for device: OpenCLDeviceInfo,
                                 environment: [String: String] = ProcessInfo.processInfo.environment) throws -> GemmTuningSelection? {
        let all = try files(environment: environment)
        let given = environment[environmentVariable].map { path in all.first { $0.source == path } } ?? nil
        let candidates = (given.map { [$0] } ?? []) + all.filter { $0.tuning.driver == device.driverVersion } + all
        if let exact = candidates.first(where: { $0.tuning.device == device.name }) {
            return GemmTuningSelection(source: exact.source, tuning: exact.tuning,
                                       driverMatches: exact.tuning.driver == device.driverVersion)
        }
        guard device.kind == .cpu else { return nil }
        let sibling = candidates.first { file in
            file.tuning.kind == OpenCLDeviceInfo.Kind.cpu.rawValue && file.tuning.platform == device.platformName
                && file.tuning.kernels.allSatisfy { GemmSearchSpace.fits(kernel: $0.key, $0.value, on: device) }
        }
        return sibling.map {
            GemmTuningSelection(source: $0.source, tuning: $0.tuning, driverMatches: $0.tuning.driver == device.driverVersion,
                                deviceMatches: false)
        }
    }

    /// Overrides CLBlast's parameters of every kernel in `tuning` on `device`, for this process.
    /// - Throws: ``SSLError/clblast(call:status:)`` naming the kernel and `source` when CLBlast refuses.
    public static func apply(_ tuning: GemmTuning, source: String, to device: OpenCLDeviceInfo) throws {
        for (kernel, parameters) in tuning.kernels.sorted(by: { $0.key < $1.key }) {
            try override(kernel, parameters, on: device, what: "\(kernel) from \(source)")
        }
    }

    /// `CLBlastOverrideParameters` for one kernel, all its parameters at once.
    static func override(_ kernel: String, _ parameters: [String: Int], on device: OpenCLDeviceInfo, what: String) throws {
        let sorted = parameters.sorted { $0.key < $1.key }
        let names = sorted.map { strdup($0.key) }
        defer { names.forEach { free($0) } }
        var pointers = names.map { UnsafePointer<CChar>($0) }
        var values = sorted.map { Int($0.value) }
        let status = pointers.withUnsafeMutableBufferPointer { namesBuffer in
            values.withUnsafeMutableBufferPointer { valuesBuffer in
                OpenCLContext.withCLBlast {
                    CLBlastOverrideParameters(device.id, kernel, CLBlastPrecisionSingle, sorted.count,
                                              namesBuffer.baseAddress, valuesBuffer.baseAddress)
                }
            }
        }
        guard status == CLBlastSuccess else {
            throw SSLError.clblast(call: "CLBlastOverrideParameters(\(what))", status: status.rawValue)
        }
    }

    /// The parameters CLBlast will compile `kernel` with on `device`: its database's, or an override.
    public static func parametersInUse(_ kernel: String, on device: OpenCLDeviceInfo) throws -> [String: Int] {
        var buffer = [CChar](repeating: 0, count: 4096)
        let status = cclblast_retrieve_parameters(device.id, kernel, &buffer, buffer.count)
        guard status == 0 else { throw SSLError.clblast(call: "RetrieveParameters(\(kernel))", status: status) }
        var result: [String: Int] = [:]
        for line in String(cString: buffer).split(separator: "\n") {
            let parts = line.split(separator: "=")
            if parts.count == 2, let value = Int(parts[1]) { result[String(parts[0])] = value }
        }
        return result
    }

    /// "NAME=VALUE …" in name order.
    public static func describe(_ parameters: [String: Int]) -> String {
        parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    // MARK: - Once per device and process

    private static let lock = NSLock()
    nonisolated(unsafe) private static var applied: [UInt: GemmTuningSelection?] = [:]

    /// Looks up and applies the tuning of `device` the first time a context is made for it in this
    /// process (CLBlast's overrides are per device and process); later calls return that selection.
    static func applyOnce(to device: OpenCLDeviceInfo) throws -> GemmTuningSelection? {
        let key = UInt(bitPattern: device.id)
        lock.lock(); defer { lock.unlock() }
        if let known = applied[key] { return known }
        let selection = try selection(for: device)
        if let selection { try apply(selection.tuning, source: selection.source, to: device) }
        applied[key] = .some(selection)
        return selection
    }
}
