// DeepCluster and SeLA in the training loop: pseudo-labels recomputed every epoch over several
// clusters, DeepCluster's head and its optimizer state redrawn every epoch, labels restored on a
// resume inside an epoch.
import Foundation
import Testing
@testable import SSLTrain

@Suite struct TrainPseudoLabelTests {
    private func trainer(_ method: Method, steps: Int, folder: String = TrainingFixtures.folder()) throws -> Trainer {
        try Trainer(config: TrainingFixtures.config(method, steps: steps), data: try TrainingFixtures.data(),
                    backend: TestBackends.reference, outputFolder: folder,
                    progress: ProgressReporter(logEvery: 1000, forceTerminal: false))
    }

    private func store(_ trainer: Trainer) throws -> PseudoLabels {
        switch trainer.objective {
        case let o as DeepClusterObjective: return o.pseudoLabels
        case let o as SeLAObjective: return o.pseudoLabels
        default: throw SSLError.invalidArgument(op: "test", detail: "not a pseudo-label objective")
        }
    }

    private func labels(_ trainer: Trainer) throws -> [Int] { try store(trainer).all }

    @Test("pseudo-labels cover several clusters and change from one epoch to the next", arguments: [Method.deepcluster, .sela])
    func labelsPerEpoch(_ method: Method) throws {
        let t = try trainer(method, steps: 4)  // 4 steps: exactly epoch 0
        try t.objective.beginEpoch(0, trainer: t)
        let first = try labels(t)
        #expect(first.count == 64 && first.allSatisfy { (0..<8).contains($0) })
        #expect(Set(first).count >= 4, "\(method): \(first)")
        try t.run()
        #expect(try labels(t) == first, "the run recomputed epoch 0's labels from the same encoder")
        try t.objective.beginEpoch(1, trainer: t)
        let second = try labels(t)
        #expect(Set(second).count >= 4 && second.allSatisfy { (0..<8).contains($0) })
        #expect(second != first, "\(method)")
    }

    @Test("DeepCluster redraws its head N(0, 0.01²), bias 0, and zeroes the head's optimizer state every epoch")
    func headRedrawn() throws {
        let t = try trainer(.deepcluster, steps: 4)
        let o = try #require(t.objective as? DeepClusterObjective)
        let backend = TestBackends.reference
        func expectFresh(_ epoch: Int) throws {
            let fresh = try backend.deepClusterHead(features: o.head.inFeatures, clusters: 8, seed: UInt64(epoch))
            #expect(try backend.download(o.head.weight.value) == backend.download(fresh.weight), "epoch \(epoch)")
            #expect(try backend.download(try #require(o.head.bias).value).allSatisfy { $0 == 0 })
            for entry in try t.optimizer.state where entry.name.hasPrefix("head.") {
                #expect(try backend.download(entry.tensor).allSatisfy { $0 == 0 }, "\(entry.name)")
            }
        }
        try t.objective.beginEpoch(0, trainer: t)
        try expectFresh(0)
        let weight0 = try backend.download(o.head.weight.value)
        try t.run()
        #expect(try backend.download(o.head.weight.value) != weight0, "the head trains")
        let momentum = try #require(try t.optimizer.state.first { $0.name == "head.weight.momentum_buffer" })
        #expect(try backend.download(momentum.tensor).contains { $0 != 0 })
        try t.objective.beginEpoch(1, trainer: t)
        try expectFresh(1)
        #expect(try backend.download(o.head.weight.value) != weight0, "a new draw each epoch")
        // The encoder's optimizer state is left alone.
        let encoderState = try #require(try t.optimizer.state.first { $0.name.hasPrefix("encoder.") })
        #expect(try backend.download(encoderState.tensor).contains { $0 != 0 })
    }

    @Test("a resume inside an epoch restores the epoch's pseudo-labels", arguments: [Method.deepcluster, .sela])
    func labelsSurviveResume(_ method: Method) throws {
        let folder = TrainingFixtures.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let stopped = try trainer(method, steps: 3, folder: folder)  // stops inside epoch 0
        try stopped.run()
        let saved = try labels(stopped)
        let resumed = try trainer(method, steps: 6, folder: folder)
        // Other labels in the fresh objective (and in its host copy), which the resume must replace.
        let other = saved.map { ($0 + 1) % 8 }
        try store(resumed).assign(other)
        #expect(try labels(resumed) == other)
        try resumed.resume(from: resumed.files.checkpoint)
        #expect(try labels(resumed) == saved, "\(method)")
    }
}
