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
        // The trained network by layer: the pixels and the encoder's output are the rows above.
        let layers = metrics?["layers"] as? [[String: Any]]
        #expect(layers?.map { $0["representation"] as? String } == ["pixels", "layer 1 (32)", "layer 2 (16)", "head output"])
        #expect((layers?.first?["scores"] as? NSDictionary) == (rows?.first?["scores"] as? NSDictionary))
        #expect((layers?[2]["scores"] as? NSDictionary) == (rows?.last?["scores"] as? NSDictionary))
        let trained = rows?.last?["scores"] as? [String: Any]
        #expect(trained?["marginCosine"] != nil && trained?["marginEuclidean"] != nil)
        var layerwise = try SSLCommand.parseAsRoot(["eval", "layers", "--checkpoint", "\(run.out)/checkpoint.npz", "--device", "reference"])
        try layerwise.run()

        let embedding = "\(run.folder)/emb.npy"
        var embed = try SSLCommand.parseAsRoot(["embed", "--checkpoint", "\(run.out)/checkpoint.npz", "--out", embedding,
                                                "--device", "reference"])
        try embed.run()
        let features = try NumPy.read(embedding)
        #expect(features.shape == [32, 16])
        #expect(try NumPy.read("\(run.folder)/emb_labels.npy").integers().count == 32)

        // Onto its own checkpoint: refused, the checkpoint kept.
        let checkpoint = "\(run.out)/checkpoint.npz", before = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
        var onto = try SSLCommand.parseAsRoot(["embed", "--checkpoint", checkpoint, "--out", checkpoint, "--device", "reference"])
        let error = #expect(throws: SSLError.self) { try onto.run() }
        #expect(error?.description.contains("is also the input") == true, "\(String(describing: error))")
        #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoint)) == before)
    }

    /// 64 images in batches of 16: 2 epochs of 4 steps, checkpointed at step 8. Resuming with
    /// batches of 32 used to loop for ever (step 4 of an epoch of 2 never ends) and overwrote
    /// the checkpoint's configuration.
    @Test("--resume refuses a changed batch size, seed, data set or its contents, naming it; more epochs continue the run; --method must match --config")
    func resumeChecksTheRun() throws {
        let run = try TinyRun(epochs: 2, steps: nil)
        defer { try? FileManager.default.removeItem(atPath: run.folder) }
        let base = ["train", "--config", run.config, "--out", run.out, "--device", "reference", "--no-eval"]
        var first = try SSLCommand.parseAsRoot(base)
        try first.run()
        let checkpoint = try Data(contentsOf: URL(fileURLWithPath: "\(run.out)/checkpoint.npz"))
        for (extra, named) in [(["--batch-size", "32"], "batchSize 16, but this run has batchSize 32"),
                               (["--seed", "5"], "seed 0, but this run has seed 5")] {
            var resumed = try SSLCommand.parseAsRoot(base + extra + ["--resume", "--epochs", "4"])
            let error = #expect(throws: SSLError.self) { try resumed.run() }
            #expect(error?.description.contains(named) == true && error?.description.contains("checkpoint.npz") == true,
                    "\(String(describing: error))")
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(run.out)/checkpoint.npz")) == checkpoint, "left as it was")
        }
        // The same images' file with half of them: 2 steps an epoch, so step 8 is no position of it.
        let images = try NumPy.read("\(run.folder)/train_x.npy").floats(), labels = try NumPy.read("\(run.folder)/train_y.npy").integers()
        try NumPy.write(Array(images.prefix(32 * 144)), shape: [32, 12, 12], to: "\(run.folder)/train_x.npy")
        try NumPy.write(Array(labels.prefix(32)), shape: [32], to: "\(run.folder)/train_y.npy")
        var shrunk = try SSLCommand.parseAsRoot(base + ["--resume", "--epochs", "4"])
        let error = #expect(throws: SSLError.self) { try shrunk.run() }
        #expect(error?.description.contains("global step 8, which a run of 2 steps per epoch cannot continue from") == true,
                "\(String(describing: error))")
        // As many images, one pixel changed: other images under the same name.
        var changed = images
        changed[100] = 1 - changed[100]
        try NumPy.write(changed, shape: [64, 12, 12], to: "\(run.folder)/train_x.npy")
        try NumPy.write(labels, shape: [64], to: "\(run.folder)/train_y.npy")
        var replaced = try SSLCommand.parseAsRoot(base + ["--resume", "--epochs", "4"])
        let other = #expect(throws: SSLError.self) { try replaced.run() }
        #expect(other?.description.contains("was trained on other images under the same name") == true, "\(String(describing: other))")
        try NumPy.write(images, shape: [64, 12, 12], to: "\(run.folder)/train_x.npy")
        // A new run in the folder of another: refused unless told to start over.
        var again = try SSLCommand.parseAsRoot(base)
        let occupied = #expect(throws: SSLError.self) { try again.run() }
        #expect(occupied?.description.contains("holds another run (checkpoint.npz, steps.jsonl): --resume continues it, --force starts over") == true,
                "\(String(describing: occupied))")
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(run.out)/checkpoint.npz")) == checkpoint, "left as it was")
        #expect(throws: (any Error).self) { _ = try SSLCommand.parseAsRoot(base + ["--resume", "--force"]) }
        var otherMethod = try SSLCommand.parseAsRoot(base + ["--method", "simclr"])
        let mismatch = #expect(throws: (any Error).self) { try otherMethod.run() }
        #expect("\(String(describing: mismatch))".contains("--method simclr differs from the method of \(run.config) (barlow)"),
                "\(String(describing: mismatch))")
        // Step counts that overflow are errors, not traps.
        var endless = try SSLCommand.parseAsRoot(["train", "--config", run.config, "--out", "\(run.folder)/endless",
                                                  "--device", "reference", "--epochs", "\(Int.max)"])
        let overflow = #expect(throws: SSLError.self) { try endless.run() }
        #expect(overflow?.description.contains("more steps than can be counted") == true, "\(String(describing: overflow))")
        var longer = try SSLCommand.parseAsRoot(base + ["--resume", "--epochs", "3"])
        try longer.run()
        let steps = try String(contentsOfFile: "\(run.out)/steps.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(steps.count == 12, "8 steps before the resume, 4 after")
        var over = try SSLCommand.parseAsRoot(base + ["--force", "--epochs", "1"])
        try over.run()
        let restarted = try String(contentsOfFile: "\(run.out)/steps.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(restarted.count == 4, "a new run of one epoch: \(restarted.count) steps logged")
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

    @Test("test images of another shape than the training images are an error naming both shapes")
    func splitsOfAnotherShape() throws {
        let run = try TinyRun(epochs: 1, steps: 1)
        defer { try? FileManager.default.removeItem(atPath: run.folder) }
        try NumPy.write([Float](repeating: 0.5, count: 32 * 10 * 10), shape: [32, 10, 10], to: "\(run.folder)/test_x.npy")
        let error = #expect(throws: SSLError.self) {
            _ = try DataSources.load(run.dataset, trainSubset: nil, evalTrain: 64, evalTest: 32)
        }
        #expect(error?.description.contains("the test images are 1×10×10 (channels × height × width) but the training images 1×12×12")
                == true, "\(String(describing: error))")
    }

    @Test("--preset keeps a configuration file's keys: an invalid one is reported, not replaced")
    func presetKeepsFileKeys() throws {
        let run = try TinyRun(epochs: 1, steps: 1)
        defer { try? FileManager.default.removeItem(atPath: run.folder) }
        var c = try TrainConfig.load(run.config)
        c.epochs = 0
        try JSONEncoder().encode(c).write(to: URL(fileURLWithPath: run.config))
        var train = try SSLCommand.parseAsRoot(["train", "--config", run.config, "--preset", "cpu", "--out", run.out, "--device", "reference"])
        let error = #expect(throws: SSLError.self) { try train.run() }
        #expect(error?.description.contains("epochs (--epochs) must be at least 1, got 0") == true, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: run.out), "nothing written")
    }

    /// With --force a run even removes the old run's files first: its configuration or data
    /// under one of those names would be lost.
    @Test("ssl train refuses an --out whose run files would be its configuration or data")
    func outOntoItsInputs() throws {
        let run = try TinyRun(epochs: 1, steps: 1)
        defer { try? FileManager.default.removeItem(atPath: run.folder) }
        let files = RunFiles(folder: run.folder)
        try FileManager.default.copyItem(atPath: run.config, toPath: files.metrics)
        try FileManager.default.copyItem(atPath: "\(run.folder)/train_x.npy", toPath: files.report)
        let data = "npy:\(files.report),\(run.folder)/train_y.npy,\(run.folder)/test_x.npy,\(run.folder)/test_y.npy"
        let (config, images) = (try Data(contentsOf: URL(fileURLWithPath: files.metrics)), try Data(contentsOf: URL(fileURLWithPath: files.report)))
        for arguments in [["--config", files.metrics], ["--config", run.config, "--dataset", data]] {
            var train = try SSLCommand.parseAsRoot(["train"] + arguments + ["--out", run.folder, "--force", "--device", "reference"])
            let error = #expect(throws: SSLError.self) { try train.run() }
            #expect(error?.description.contains("is also the input") == true, "\(String(describing: error))")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: files.metrics)) == config)
        #expect(try Data(contentsOf: URL(fileURLWithPath: files.report)) == images)
    }

    static let badConfigs: [(String, String)] = [
        (#"{"method": "simclr", "batchsize": 32}"#, "unknown key 'batchsize' (did you mean 'batchSize'?)"),
        (#"{"method": "simclr", "learningRate": 0.3}"#, "unknown key 'learningRate' (did you mean '"),
        (#"{"method": "simclr", "batchSize": 32.5}"#, "bad value at 'batchSize'"),
        (#"{"method": "simclr", "batchSize": 1e20}"#, "bad value at 'batchSize'"),
        (#"{"method": "simclr", "seed": -1}"#, "bad value at 'seed'"),
        (#"{"method": "simclr", "epochs": "ten"}"#, "bad value at 'epochs'"),
        (#"{"method": "simclr", "#, "not valid JSON"),
    ]

    /// Keys whose default is nil (temperature, baseLR, …) once read as integers: a nil of any
    /// optional type passes `is UInt64?`.
    @Test("a configuration file's fractional values load, optional keys included")
    func fractionalValues() throws {
        let folder = TrainingFixtures.folder()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/config.json"
        let text = #"{"method": "simclr", "temperature": 0.2, "baseLR": 0.3, "weightDecay": 1e-5, "emaMomentum": 0.99, "#
            + #""cropScale": [0.5, 1], "warmupEpochs": 0.5, "lambda": 0.01, "trainSubset": 1000, "projector": [64, 32]}"#
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let c = try TrainConfig.load(path)
        #expect(c.temperature == 0.2 && c.baseLR == 0.3 && c.weightDecay == 1e-5 && c.emaMomentum == 0.99)
        #expect(c.cropScale == [0.5, 1] && c.warmupEpochs == 0.5 && c.lambda == 0.01 && c.trainSubset == 1000 && c.projector == [64, 32])
    }

    @Test("a configuration file's unknown key, wrong type or out-of-range number is an error naming the key",
          arguments: badConfigs)
    func badConfigFile(_ c: (String, String)) throws {
        let folder = TrainingFixtures.folder()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/config.json"
        try Data(c.0.utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: SSLError.self) { _ = try TrainConfig.load(path) }
        #expect(error?.description.hasPrefix(path + ": ") == true && error?.description.contains(c.1) == true,
                "\(String(describing: error))")
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
        for name in names { _ = FileManager.default.createFile(atPath: folder + "/" + name, contents: Data([1])) }
        AtomicFile.removeAbandonedTemporaries(of: URL(fileURLWithPath: folder + "/checkpoint.npz"))
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: folder))
        #expect(left == [names[0], names[2], names[3]])
    }

    @Test("atomic writes replace regular files only: a link is written through, a device node directly, a folder refused")
    func atomicWriteTargets() throws {
        let folder = TrainingFixtures.folder()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try AtomicFile.write(Data("x".utf8), to: URL(fileURLWithPath: "/dev/null"))
        var status = stat()
        #expect(stat("/dev/null", &status) == 0 && status.st_mode & S_IFMT == S_IFCHR, "/dev/null is still a device")

        let target = folder + "/target.npy", link = folder + "/link.npy"
        _ = FileManager.default.createFile(atPath: target, contents: Data("old".utf8))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        try AtomicFile.write(Data("new".utf8), to: URL(fileURLWithPath: link))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == target)
        #expect(FileManager.default.contents(atPath: target) == Data("new".utf8))

        let intoFolder = #expect(throws: SSLError.self) { try AtomicFile.write(Data(), to: URL(fileURLWithPath: folder)) }
        #expect(intoFolder?.description == "\(folder): is a folder; give a file name")
        // A folder that cannot be made (a file stands in its place): the path and the reason in words.
        let blocked = #expect(throws: SSLError.self) {
            try AtomicFile.write(Data(), to: URL(fileURLWithPath: target + "/sub/out.npy"))
        }
        let text = blocked?.description ?? ""
        #expect(text.hasPrefix(target + "/sub/out.npy: cannot create its folder") && !text.contains("NSCocoaErrorDomain"), "\(text)")
        // The commands' output folders say the same.
        let folderError = #expect(throws: SSLError.self) { _ = try OutputFolder(target + "/sub", inputs: []) }
        #expect(folderError?.description == "\(target)/sub: cannot create the folder: Not a directory",
                "\(String(describing: folderError))")
    }
}

@Suite struct PrintConfigTests {
    @Test("ssl train --print-config prints the configuration a run records, and writes nothing",
          .enabled(if: sslBinary != nil || ProcessInfo.processInfo.environment["CI"] != nil))
    func printConfig() throws {
        let binary = try #require(sslBinary, "the ssl binary beside the tests")
        let run = try TinyRun(epochs: 1, steps: 2)
        defer { try? FileManager.default.removeItem(atPath: run.folder) }
        let process = Process(), pipe = Pipe()
        process.executableURL = binary
        process.arguments = ["train", "--config", run.config, "--out", run.out, "--device", "reference", "--seed", "7", "--print-config"]
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let printed = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: run.out), "nothing written")
        var train = try SSLCommand.parseAsRoot(["train", "--config", run.config, "--out", run.out, "--device", "reference", "--seed", "7"])
        try train.run()
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(run.out)/metrics.json"))) as? [String: Any]
        let recorded = try #require(metrics?["config"] as? NSDictionary)
        #expect(try JSONSerialization.jsonObject(with: printed) as? NSDictionary == recorded)
    }
}
