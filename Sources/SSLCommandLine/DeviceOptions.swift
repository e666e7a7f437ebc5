// Command-line pieces shared by the `ssl` and `ssl-bench` executables, so that both pick
// devices exactly alike and their results name the same machine.
import ArgumentParser
import Foundation
import SSLCore

/// `--device`, with `SSL_DEVICE` and `auto` as fallbacks.
public struct DeviceOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Where to compute: \(DeviceSpec.help).",
                                            discussion: "Default: $\(Devices.environmentVariable), else auto."))
    public var device: String?

    public init() {}

    public func validate() throws {
        if let device { _ = try DeviceSpec(parsing: device) }
    }

    /// The chosen backend; says which one on standard error, so that a long run shows where it
    /// runs and standard output stays pure table or JSON.
    public func backend() throws -> any Backend {
        let backend = try Devices.backend(for: device)
        printError("device: \(backend.name)")
        if let openCL = backend as? OpenCLBackend { printError("gemm: \(openCL.gemmDescription)") }
        return backend
    }

    /// The backend of one rank of a data-parallel job: `auto`/`gpu` take the rank's own GPU
    /// among the host's (by local rank); an explicit `--device` applies to every rank.
    public func backend(localRank: Int) throws -> any Backend {
        try Devices.backend(for: device, localRank: localRank)
    }
}

/// Writes a line to standard error.
public func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
