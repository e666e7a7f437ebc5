// Running executables and mpirun jobs from the tests: a timeout that tells a hang from a slow
// machine, and the rank variables of an enclosing job filtered out.
import Foundation
import Testing

/// `mpirun` on PATH, or nil.
let mpirun: URL? = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for folder in path.split(separator: ":") {
        let url = URL(fileURLWithPath: String(folder)).appendingPathComponent("mpirun")
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    return nil
}()

/// A product built beside the test bundle (the test target depends on it), or nil.
func builtProduct(_ name: String) -> URL? {
    let url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
    return FileManager.default.isExecutableFile(atPath: url.path) ? url : nil
}

let checkBinary = builtProduct("ssl-mpi-check")
/// `ssl`, for what cannot run in the test process: mpirun jobs, and the ICD loader, which reads
/// its configuration once per process.
let sslBinary = builtProduct("ssl")

let inCI = ProcessInfo.processInfo.environment["CI"] != nil

/// Runs a process to its end or until `timeout` seconds, then SIGTERM (mpirun passes it on to
/// its ranks) and, 5 s later, SIGKILL. Standard output and error are read together.
/// `environment` sets variables over the test's own, or removes those mapped to nil.
func runProcess(_ executable: URL, _ arguments: [String], timeout: TimeInterval, environment changes: [String: String?] = [:])
    throws -> (status: Int32, output: String, seconds: Double, timedOut: Bool)
{
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    // A test run started inside another MPI job must not hand its rank variables down.
    var environment = ProcessInfo.processInfo.environment.filter {
        !$0.key.hasPrefix("OMPI_") && !$0.key.hasPrefix("PMIX_")
    }
    for (key, value) in changes { environment[key] = value }
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    let reader = DispatchGroup()
    nonisolated(unsafe) var data = Data()
    reader.enter()
    DispatchQueue.global().async {
        data = pipe.fileHandleForReading.readDataToEndOfFile()
        reader.leave()
    }
    let start = Date()
    try process.run()
    var timedOut = false
    while process.isRunning {
        if Date().timeIntervalSince(start) > timeout {
            timedOut = true
            process.terminate()
            let killAt = Date().addingTimeInterval(5)
            while process.isRunning && Date() < killAt { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            break
        }
        usleep(20_000)
    }
    process.waitUntilExit()
    let seconds = Date().timeIntervalSince(start)
    _ = reader.wait(timeout: .now() + 10)
    return (process.terminationStatus, String(decoding: data, as: UTF8.self), seconds, timedOut)
}

/// `mpirun … -np 2 ssl-mpi-check ARGS`, or nil after recording why it cannot run
/// (a failure in CI, a skip elsewhere).
func mpirun2(_ arguments: [String], binary product: URL? = checkBinary, ranks: Int = 2, timeout: TimeInterval)
    throws -> (status: Int32, output: String, seconds: Double, timedOut: Bool)?
{
    guard let mpirun else {
        if inCI { Issue.record("CI needs Open MPI's mpirun for the 2-rank tests (apt-get install openmpi-bin)") }
        return nil
    }
    guard let binary = product else {
        Issue.record("the executable is not built beside the tests (run swift build --build-tests)")
        return nil
    }
    return try runProcess(mpirun, ["--allow-run-as-root", "--oversubscribe", "-np", String(ranks), binary.path] + arguments,
                   timeout: timeout)
}

