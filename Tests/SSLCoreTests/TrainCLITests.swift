// `ssl train` and `ssl embed` end to end, and a checkpoint that survives `kill -9` while saving.
import Foundation
import Testing
@testable import SSLTrain
@testable import ssl

/// Tiny train and test splits as .npy files, and a configuration that trains on them.
private struct TinyRun {
    let folder: String
    var dataset: String { "npy:\(folder)/train_x.npy,\(folder)/train_y.npy,\(folder)/test_x.npy,\(folder)/test_y.npy" }

    init(epochs: Int, steps: Int?) throws {
        folder = TrainingFixtures.folder()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (name, set) in [("train", try TrainingFixtures.images(count: 64, seed: 1)), ("test", try TrainingFixtures.images(count: 32, seed: 2))] {
            try NumPy.write(try set.images(Array(0..<set.count)), shape: [set.count, 12, 12], to: "\(folder)/\(name)_x.npy")
            try NumPy.write(set.labels!.map(Int64.init), shape: [set.count], to: "\(folder)/\(name)_y.npy")
        }
        var c = TrainingFixtures.config(.barlow, steps: steps ?? 1)
        c.steps = steps
        c.epochs = epochs
        c.dataset = dataset
        c.evalTrain = 64
        c.evalTest = 32
        let json = JSONEncoder()
        try json.encode(c).write(to: URL(fileURLWithPath: "\(folder)/config.json"))
    }

    var config: String { "\(folder)/config.json" }
    var out: String { "\(folder)/run" }
}

@Suite struct TrainCLITests {
    @Test("ssl train writes checkpoint, step log, metrics and report; ssl embed exports the encoder's features")
    func trainThenEmbed() throws {
        let run = try TinyRun(epochs: 2, steps: 5)
        defer { try? FileManager.default.removeItem(atPath: run.folder) }
        var train = try SSLCommand.parseAsRoot(["train", "--config", run.config, "--out", run.out, "--device", "reference"])
        try train.run()
        for file in ["checkpoint.npz", "steps.jsonl", "metrics.json", "report.svg"] {
            #expect(FileManager.default.fileExists(atPath: "\(run.out)/\(file)"), "\(file)")
        }
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(run.out)/metrics.json"))) as? [String: Any]
        let rows = metrics?["rows"] as? [[String: Any]]
        #expect(rows?.map { $0["representation"] as? String } == ["raw pixels", "random-init encoder", "trained encoder"])

        let embedding = "\(run.folder)/emb.npy"
        var embed = try SSLCommand.parseAsRoot(["embed", "--checkpoint", "\(run.out)/checkpoint.npz", "--out", embedding,
                                                "--device", "reference"])
        try embed.run()
        let features = try NumPy.read(embedding)
        #expect(features.shape == [32, 16])
        #expect(try NumPy.read("\(run.folder)/emb_labels.npy").integers().count == 32)
    }

    @Test("a missing data set or a bad configuration is an error naming it")
    func badInputs() throws {
        var missing = try SSLCommand.parseAsRoot(["train", "--method", "barlow", "--dataset", "mnist:/nonexistent",
                                                  "--out", TrainingFixtures.folder(), "--device", "reference"])
        let error = #expect(throws: SSLError.self) { try missing.run() }
        #expect(error?.description.contains("/nonexistent") == true, "\(error?.description ?? "")")
        #expect(throws: (any Error).self) { _ = try SSLCommand.parseAsRoot(["train"]) }
        #expect(throws: (any Error).self) { _ = try SSLCommand.parseAsRoot(["train", "--method", "nonsense"]) }
    }

    /// The built `ssl` beside the test bundle, for the subprocess test.
    private var binary: URL? {
        let url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ssl")
        return FileManager.default.isExecutableFile(atPath: url.path) ? url : nil
    }

    @Test("kill -9 during training leaves a checkpoint that loads and resumes",
          .enabled(if: FileManager.default.isExecutableFile(atPath: URL(fileURLWithPath: CommandLine.arguments[0])
            .deletingLastPathComponent().appendingPathComponent("ssl").path)))
    func killWhileSaving() throws {
        let run = try TinyRun(epochs: 100_000, steps: nil)  // a checkpoint every 4 steps, for ever
        defer { try? FileManager.default.removeItem(atPath: run.folder) }
        let checkpoint = "\(run.out)/checkpoint.npz"
        for attempt in 0..<3 {
            let process = Process()
            process.executableURL = binary!
            process.arguments = ["train", "--config", run.config, "--out", run.out, "--device", "reference"]
                + (attempt > 0 ? ["--resume"] : [])
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Wait for a first checkpoint, then kill at a moment unrelated to the save cycle.
            let deadline = Date().addingTimeInterval(60)
            while !FileManager.default.fileExists(atPath: checkpoint) && Date() < deadline { usleep(20_000) }
            usleep(useconds_t(150_000 + 97_000 * attempt))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            let reader = try CheckpointReader(path: checkpoint)  // loads: CRC-checked, complete
            #expect(reader.tensorNames.contains { $0.hasPrefix("model/encoder.") })
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: run.out).filter { $0.hasSuffix(".tmp") }
            #expect(leftovers.count <= 1, "at most the one temporary file the kill interrupted: \(leftovers)")
        }
    }
}
