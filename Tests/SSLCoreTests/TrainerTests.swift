// The training loop: a short run of every method on tiny data, exact resume, the step log,
// configuration files, and a checkpoint that survives a kill while saving.
import Foundation
import Testing
@testable import SSLTrain

/// Every method has a training loop; a method the factory cannot build fails its tests.
let trainableMethods = Method.allCases

@Suite struct TrainerTests {
    @Test("every method trains a few steps on tiny data, on every backend", arguments: trainableMethods)
    func shortRun(_ method: Method) throws {
        try forEachBackend { backend in
            let folder = TrainingFixtures.folder()
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let trainer = try TrainingFixtures.run(method, steps: 3, on: backend, folder: folder)
            #expect(trainer.history.losses.count == 3 && trainer.history.losses.allSatisfy(\.isFinite), "\(method) on \(backend.name)")
            let lines = try String(contentsOfFile: trainer.files.steps, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 3)
            let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
            #expect(first?["step"] as? Int == 0 && first?["loss"] is Double && first?["lr"] is Double)
            #expect(FileManager.default.fileExists(atPath: trainer.files.checkpoint))
            #expect(trainer.history.knn.count == 1)
        }
    }

    @Test("a run stopped and resumed equals an uninterrupted one, bit for bit on the reference",
          arguments: trainableMethods)
    func exactResume(_ method: Method) throws {
        let backend = TestBackends.reference
        let straight = try TrainingFixtures.run(method, steps: 6, on: backend)
        let folder = TrainingFixtures.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        _ = try TrainingFixtures.run(method, steps: 3, on: backend, folder: folder)  // stops inside epoch 0 (4 steps/epoch)
        let resumed = try Trainer(config: TrainingFixtures.config(method, steps: 6), data: try TrainingFixtures.data(),
                                  backend: backend, outputFolder: folder,
                                  progress: ProgressReporter(logEvery: 1000, forceTerminal: false))
        try resumed.resume(from: resumed.files.checkpoint)
        try resumed.run()
        #expect(resumed.history.losses.map(\.bitPattern) == straight.history.losses.map(\.bitPattern), "\(method)")
        for (a, b) in zip(resumed.objective.parameters, straight.objective.parameters) {
            #expect(try backend.download(a.value).map(\.bitPattern) == backend.download(b.value).map(\.bitPattern), "\(a.name)")
        }
        let lines = try String(contentsOfFile: resumed.files.steps, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 6)
    }

    @Test("a JSON configuration sets any subset of the keys; bad files are clear errors")
    func configurationFile() throws {
        let folder = TrainingFixtures.folder()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/config.json"
        try Data(#"{"method": "vicreg", "epochs": 7, "projector": [64, 64]}"#.utf8).write(to: URL(fileURLWithPath: path))
        let c = try TrainConfig.load(path)
        #expect(c.method == .vicreg && c.epochs == 7 && c.projector == [64, 64] && c.batchSize == 256 && c.simCoeff == 25)
        try Data(#"{"epochs": 7}"#.utf8).write(to: URL(fileURLWithPath: path))
        let missing = #expect(throws: SSLError.self) { _ = try TrainConfig.load(path) }
        #expect(missing?.description.contains("method") == true)
        try Data(#"{"method": "vicreg", "epochs": "many"}"#.utf8).write(to: URL(fileURLWithPath: path))
        let wrong = #expect(throws: SSLError.self) { _ = try TrainConfig.load(path) }
        #expect(wrong?.description.contains("epochs") == true, "\(wrong?.description ?? "")")
        var bad = TrainConfig.defaults(for: .barlow)
        bad.batchSize = 1
        #expect(throws: SSLError.self) { try bad.validate() }
    }

    @Test("the learning rate warms up linearly, then decays by cosine to 1/1000")
    func schedule() throws {
        var c = TrainingFixtures.config(.barlow, steps: 1)
        c.epochs = 40  // 160 steps: warm-up capped at 16
        let trainer = try Trainer(config: c, data: try TrainingFixtures.data(), backend: TestBackends.reference,
                                  outputFolder: TrainingFixtures.folder())
        let peak = 0.2 * 16 / 256
        #expect(abs(try trainer.schedule.learningRate(at: 16) - peak) < 1e-12)
        #expect(try trainer.schedule.learningRate(at: 8) < peak)
        #expect(abs(try trainer.schedule.learningRate(at: 160) - peak * 0.001) < 1e-12)
    }
}
