// `ssl train` and `ssl embed` end to end, and a checkpoint that survives `kill -9` while saving.
import Foundation
import Testing
@testable import SSLCore
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

    /// `ssl train` killed inside the checkpoint writer, deterministically: the test hook of
    /// AtomicFile kills the process at its second checkpoint write, after the temporary file is
    /// written and before the rename. 64 images in batches of 16 save a checkpoint every 4 steps,
    /// so the first run leaves the checkpoint of step 4 (killed writing step 8's), and the run
    /// resumed from it that of step 8 (killed writing step 12's). Each run removes the temporary file the previous kill abandoned.
    @Test("kill -9 inside the checkpoint writer leaves the previous checkpoint, which loads and resumes",
          .enabled(if: sslBinary != nil || inCI))
    func killWhileSaving() throws {
        let ssl = try #require(sslBinary, "the ssl executable beside the tests (swift build)")
        let run = try TinyRun(epochs: 100_000, steps: nil)
        defer { try? FileManager.default.removeItem(atPath: run.folder) }
        let checkpoint = "\(run.out)/checkpoint.npz"
        var abandoned: [String] = []
        for (attempt, expectedStep) in [4, 8].enumerated() {
            let result = try runProcess(ssl, ["train", "--config", run.config, "--out", run.out, "--device", "reference"]
                                            + (attempt > 0 ? ["--resume"] : []),
                                        timeout: 120, environment: ["SSL_TEST_KILL_BEFORE_RENAME": "checkpoint.npz:2"])
            try #require(!result.timedOut && result.status == SIGKILL, "attempt \(attempt): exit \(result.status):\n\(result.output)")
            let reader = try CheckpointReader(path: checkpoint)  // loads: CRC-checked, complete
            #expect(reader.tensorNames.contains { $0.hasPrefix("model/encoder.") })
            let step = try reader.metadata(CheckpointMeta.self).globalStep
            #expect(step == expectedStep, "attempt \(attempt): the checkpoint of step \(step)")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: run.out).filter { $0.hasSuffix(".tmp") }
            #expect(leftovers.count == 1 && !abandoned.contains(leftovers[0]),
                    "the interrupted write's temporary file only, not the previous run's: \(leftovers), before \(abandoned)")
            abandoned = leftovers
        }
    }

    @Test("abandoned temporary files are removed, those of a running process and other files stay")
    func abandonedTemporaries() throws {
        let folder = TrainingFixtures.folder()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A pid above the kernel's pid_max (4194304 at most) belongs to no process.
        let names = [".checkpoint.npz.\(getpid()).7.tmp", ".checkpoint.npz.99999999.7.tmp", ".steps.jsonl.99999999.7.tmp",
                     "checkpoint.npz"]
        for name in names { FileManager.default.createFile(atPath: folder + "/" + name, contents: Data([1])) }
        AtomicFile.removeAbandonedTemporaries(of: URL(fileURLWithPath: folder + "/checkpoint.npz"))
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: folder))
        #expect(left == [names[0], names[2], names[3]])
    }
}
