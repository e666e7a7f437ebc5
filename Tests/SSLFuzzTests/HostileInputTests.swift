// Hostile inputs drawn from fixed seeds (a failure names its input and recurs on every run):
// damaged .npy files and checkpoints, configuration files of random keys and values, and random
// values for the numeric options of `ssl op` and `ssl train`. Each must end in a result or an
// SSLError naming the problem: no crash (this process would end), no hang (the subprocesses have a
// timeout), no other error type, and no input file changed. Bounded: a few hundred cases, seconds in all.
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

/// `SSL_FUZZ_SCALE=N` runs N times the cases (a longer search by hand; CI runs the default).
private let scale = max(1, Int(ProcessInfo.processInfo.environment["SSL_FUZZ_SCALE"] ?? "") ?? 1)

/// The .npy bytes of a small float32 array, the start of every damaged file.
private let validNpy: [UInt8] = try! NumPy.encode([1, -2, 3.5, 4, 0, 6], shape: [2, 3], source: "valid")

/// A damage done to a file's bytes: bytes overwritten, the file cut short, or bytes inserted.
private enum Damage: Sendable, CustomStringConvertible {
    case overwrite([(offset: Int, byte: UInt8)])
    case truncate(at: Int)
    case insert(at: Int, bytes: [UInt8])

    func applied(to bytes: [UInt8]) -> [UInt8] {
        var result = bytes
        switch self {
        case .overwrite(let changes):
            for (offset, byte) in changes where !result.isEmpty { result[offset % result.count] = byte }
        case .truncate(let at):
            result = Array(result.prefix(at % (result.count + 1)))
        case .insert(let at, let inserted):
            result.insert(contentsOf: inserted, at: at % (result.count + 1))
        }
        return result
    }

    var description: String {
        switch self {
        case .overwrite(let changes): return "overwrite \(changes.map { "\($0.offset):\($0.byte)" })"
        case .truncate(let at): return "truncate at \(at)"
        case .insert(let at, let bytes): return "insert \(bytes) at \(at)"
        }
    }
}

extension Damage {
    /// A damage of one of the three kinds, at an offset, with up to 16 bytes.
    static func random(using random: inout SplitMix64) -> Damage {
        let at = Int.random(in: 0...4095, using: &random)
        let bytes = (0..<Int.random(in: 1...16, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        switch Int.random(in: 0...2, using: &random) {
        case 0: return .overwrite(bytes.enumerated().map { (offset: at + 37 * $0.offset, byte: $0.element) })
        case 1: return .truncate(at: at)
        default: return .insert(at: at, bytes: bytes)
        }
    }
}

/// Header fields a careless or hostile writer might produce, around the valid payload.
private let descriptions = ["'<f4'", "'<f8'", "'>f4'", "'<i8'", "'|u1'", "'<c8'", "'O'", "'<U3'", "'f4'", "42", "None"]
private let fortranOrders = ["False", "True", "0", "'no'"]
private let shapes = ["(2, 3)", "(6,)", "()", "(-1, 6)", "(9223372036854775807, 2)", "(3037000500, 3037000500)",
                      "(0, 5)", "(2, 3, 1, 1, 1, 1, 1, 1, 1)", "[2, 3]", "(2, 'x')", "(", ""]

/// `count` inputs (times `SSL_FUZZ_SCALE`), each drawn by `draw` from one generator seeded with
/// `seed`, so that every run checks the same inputs.
private func forEachCase<Input>(_ count: Int, seed: UInt64, draw: (inout SplitMix64) -> Input,
                                _ check: (Input) throws -> Void) rethrows {
    var random = SplitMix64(seed: seed)
    for _ in 0..<count * scale { try check(draw(&random)) }
}


private func npyWithHeader(descr: String, fortran: String, shape: String) -> [UInt8] {
    var header = Array("{'descr': \(descr), 'fortran_order': \(fortran), 'shape': \(shape), }".utf8)
    while (10 + header.count + 1) % 64 != 0 { header.append(0x20) }
    header.append(0x0A)
    let payload = validNpy.suffix(24)
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header + payload
}

/// Runs `body` and records anything but success or an SSLError.
private func expectResultOrSSLError(_ what: String, _ body: () throws -> Void) {
    do { try body() } catch is SSLError {} catch { Issue.record("\(what): \(type(of: error)) instead of an SSLError: \(error)") }
}

@Suite struct HostileInputTests {
    @Test("damaged .npy bytes: a result or an SSLError")
    func damagedNpy() {
        forEachCase(300, seed: 1, draw: Damage.random) { damage in
            let bytes = damage.applied(to: validNpy)
            expectResultOrSSLError("\(damage)") {
                let array = try NumPy.parse(bytes, source: "fuzz.npy")
                _ = try array.floats()
                _ = try array.integers()
            }
        }
    }

    @Test(".npy headers of every wrong kind: a result or an SSLError")
    func hostileHeaders() {
        func header(_ random: inout SplitMix64) -> (String, String, String) {
            (descriptions.randomElement(using: &random)!, fortranOrders.randomElement(using: &random)!,
             shapes.randomElement(using: &random)!)
        }
        forEachCase(150, seed: 2, draw: header) { descr, fortran, shape in
            expectResultOrSSLError("descr \(descr) fortran \(fortran) shape \(shape)") {
                let array = try NumPy.parse(npyWithHeader(descr: descr, fortran: fortran, shape: shape), source: "fuzz.npy")
                _ = try array.floats()
            }
        }
    }

    @Test("damaged checkpoints: a result or an SSLError, every tensor and the metadata read")
    func damagedCheckpoints() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var writer = CheckpointWriter()
        try writer.add("model/w", values: [1, 2, 3, 4, 5, 6], shape: [2, 3])
        try writer.add("optimizer/m", values: [0.5], shape: [1])
        try writer.setMetadata(["epoch": 1, "step": 2])
        let valid = folder.appendingPathComponent("valid.npz").path
        try writer.write(to: valid)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: valid)))
        let path = folder.appendingPathComponent("damaged.npz").path
        forEachCase(200, seed: 3, draw: Damage.random) { damage in
            let damaged = damage.applied(to: bytes)
            _ = FileManager.default.createFile(atPath: path, contents: Data(damaged))
            expectResultOrSSLError("\(damage)") {
                let reader = try CheckpointReader(path: path)
                for name in reader.tensorNames { _ = try reader.values(name) }
                _ = try reader.metadata([String: Int].self)
            }
        }
    }

    /// Values of every JSON kind, the troublesome numbers above all.
    private static let jsonValues = [
        "0", "-1", "1", "2", "32.5", "1e20", "1e308", "-1e308", "9223372036854775807", "18446744073709551616", "0.0051",
        "\"\"", "\"simclr\"", "\"mlp\"", "\"npy:/nonexistent\"", "null", "true", "[]", "[0]", "[-3, 4]", "[1e20]", "{}",
        "[0.5, 0.1]", "\"\\u0000\"",
    ]

    @Test("configuration files of random keys and values: a configuration or an SSLError naming the file")
    func hostileConfigs() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("config.json").path
        let keys = TrainConfig.keyNames + ["learningRate", "batch_size", ""]
        func draw(_ random: inout SplitMix64) -> (entries: [(String, String)], method: Method) {
            let entries = (0..<Int.random(in: 0...6, using: &random)).map { _ in
                (keys.randomElement(using: &random)!, Self.jsonValues.randomElement(using: &random)!)
            }
            return (entries, Method.allCases.randomElement(using: &random)!)
        }
        forEachCase(300, seed: 4, draw: draw) { entries, method in
            let body = entries.map { "\"\($0.0)\": \($0.1)" } + ["\"method\": \"\(method.rawValue)\""]
            let text = "{" + body.joined(separator: ", ") + "}"
            _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
            do {
                try TrainConfig.load(path).validate()
            } catch let error as SSLError {
                if case .file(let file, _) = error { #expect(file == path, "\(text): \(error)") }
            } catch {
                Issue.record("\(text): \(type(of: error)) instead of an SSLError: \(error)")
            }
        }
    }

    /// Numbers a user might type, the hostile ones above all, and things that are no number.
    private static let numbers = [
        "0", "1", "3", "-1", "-0", "0.05", "1e-45", "1e-39", "3e-39", "1e38", "1e39", "nan", "-nan", "inf", "-inf",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "1e308", "0x10", "", "abc", "2.5", "--",
    ]

    @Test("random values for ssl's numeric options: an exit with a message or a result; no signal, no hang, inputs kept")
    func hostileNumericOptions() throws {
        let ssl = try #require(builtSSL, "the ssl executable beside the tests (swift build)")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let scores = folder.appendingPathComponent("scores.npy").path, out = folder.appendingPathComponent("out.npy").path
        try NumPy.write([0.1, 0.9, -0.3, 0.4, 0.2, -0.8], shape: [2, 3], to: scores)
        let before = try Data(contentsOf: URL(fileURLWithPath: scores))
        let commands = ["sinkhorn", "gemm"]
        func invocation(_ random: inout SplitMix64) -> (String, String, String) {
            (commands.randomElement(using: &random)!, Self.numbers.randomElement(using: &random)!,
             Self.numbers.randomElement(using: &random)!)
        }
        forEachCase(40, seed: 5, draw: invocation) { command, first, second in
            try? FileManager.default.removeItem(atPath: out)
            let arguments = command == "sinkhorn"
                ? ["op", "sinkhorn", "--scores", scores, "--epsilon", first, "--iterations", second]
                : ["op", "gemm", "--a", scores, "--b", scores, "--transpose-b", "--alpha", first]
            let run = run(ssl, arguments + ["--out", out, "--device", "reference"])
            #expect(!run.timedOut && !run.signalled, "\(arguments): \(run.output)")
            if run.status == 0 {
                #expect(FileManager.default.fileExists(atPath: out), "\(arguments): exit 0 without a result")
            } else {
                #expect(!run.output.isEmpty && !FileManager.default.fileExists(atPath: out), "\(arguments): \(run.output)")
            }
            #expect((try? Data(contentsOf: URL(fileURLWithPath: scores))) == before, "\(arguments) changed its input")
        }
    }

    /// Values that run (about half) among hostile ones: sizes around the 64 images and the batch
    /// of 16, and the extremes.
    private static let trainNumbers = [
        "1", "2", "3", "7", "16", "17", "64", "65", "0.001", "0.5", "0", "-1", "1e-45", "1e38", "nan", "inf",
        "9223372036854775807", "-9223372036854775808", "1e308", "abc",
    ]

    /// `ssl train`'s numeric options on a tiny run (64 images of 12×12, a 32-wide encoder,
    /// batches of 16, at most 3 steps unless an option says otherwise): any two options at a
    /// time, never both run lengths, so that a legitimate run stays seconds long.
    @Test("random values for ssl train's options: a run or an exit with a message; no signal, no hang, inputs kept")
    func hostileTrainOptions() throws {
        let ssl = try #require(builtSSL, "the ssl executable beside the tests (swift build)")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var random = SplitMix64(seed: 3)
        let (x, y) = (folder.appendingPathComponent("x.npy").path, folder.appendingPathComponent("y.npy").path)
        try NumPy.write((0..<64 * 144).map { _ in Float(random.unit()) }, shape: [64, 12, 12], to: x)
        try NumPy.write((0..<64).map { Int64($0 % 10) }, shape: [64], to: y)
        func config(_ method: Method) -> String { folder.appendingPathComponent("\(method.rawValue).json").path }
        for method in Method.allCases {
            var c = TrainConfig(method: method)
            (c.encoderWidths, c.projector, c.batchSize, c.epochs, c.evaluate) = ([32], [16], 16, 1, false)
            (c.dataset, c.evalTrain, c.evalTest, c.prototypes, c.queueSize) = ("npy:\(x),\(y),\(x),\(y)", 64, 64, 8, 32)
            try JSONEncoder().encode(c).write(to: URL(fileURLWithPath: config(method)))
        }
        let files = [x, y] + Method.allCases.map(config)
        let inputs = try files.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }

        let flags = ["--epochs", "--steps", "--batch-size", "--lr", "--train-subset", "--validation", "--seed", "--projector"]
        func option(_ random: inout SplitMix64) -> (String, String) {
            (flags.randomElement(using: &random)!, Self.trainNumbers.randomElement(using: &random)!)
        }
        forEachCase(24, seed: 6, draw: { (option(&$0), option(&$0), Method.allCases.randomElement(using: &$0)!) }) { a, b, method in
            let second = Set([a.0, b.0]) == ["--epochs", "--steps"] ? ("--seed", b.1) : b
            let out = folder.appendingPathComponent("run-\(UUID().uuidString)").path
            let arguments = ["train", "--config", config(method), "--steps", "3", a.0, a.1, second.0, second.1, "--out", out,
                             "--device", "reference"]
            let run = run(ssl, arguments)
            #expect(!run.timedOut && !run.signalled, "\(arguments): \(run.output)")
            if run.status == 0 {
                #expect(FileManager.default.fileExists(atPath: out + "/checkpoint.npz"), "\(arguments): exit 0 without a checkpoint")
            } else {
                #expect(!run.output.isEmpty, "\(arguments): exit \(run.status) without a message")
            }
            let now = files.map { try? Data(contentsOf: URL(fileURLWithPath: $0)) }
            #expect(now == inputs, "\(arguments) changed an input")
        }
    }
}

/// The built `ssl` beside the test bundle.
private let builtSSL: URL? = {
    let url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ssl")
    return FileManager.default.isExecutableFile(atPath: url.path) ? url : nil
}()

/// Runs `executable` for at most 20 s (each command here takes milliseconds), then kills it;
/// its merged output, exit status and how it ended.
private func run(_ executable: URL, _ arguments: [String]) -> (status: Int32, output: String, signalled: Bool, timedOut: Bool) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-out-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: output.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: output) }
    guard let handle = try? FileHandle(forWritingTo: output) else { return (-1, "no output file", false, false) }
    process.standardOutput = handle
    process.standardError = handle
    do { try process.run() } catch { return (-1, "\(error)", false, false) }
    let deadline = Date().addingTimeInterval(20)
    while process.isRunning && Date() < deadline { usleep(5_000) }
    let timedOut = process.isRunning
    if timedOut { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    try? handle.close()
    let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
    return (process.terminationStatus, text, !timedOut && process.terminationReason == .uncaughtSignal, timedOut)
}
