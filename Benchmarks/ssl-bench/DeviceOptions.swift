// The --device option, copied from the `ssl` executable: that target cannot be imported, and
// the benchmark must pick devices exactly as `ssl` does so that results name the same machine.
import ArgumentParser
import Foundation
import SSLCore

struct DeviceOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Where to compute: \(DeviceSpec.help).",
                                            discussion: "Default: $\(Devices.environmentVariable), else auto."))
    var device: String?

    func validate() throws {
        if let device { _ = try DeviceSpec(parsing: device) }
    }

    /// The chosen backend; says which one on standard error, so that stdout stays pure table or JSON.
    func backend() throws -> any Backend {
        let backend = try Devices.backend(for: device)
        printError("device: \(backend.name)")
        return backend
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
