// What a user of the library can build from its public API alone (no @testable import): a
// method of their own, trained through Trainer with checkpoints, resume, the step log and kNN.
import Foundation
import SSLCore
import SSLTrain
import Testing

/// Alignment and uniformity on the unit sphere (Wang & Isola, ICML 2020), a loss the library
/// does not ship, written on the host in Double:
/// L = mean‖u₁ − u₂‖² + ½ Σ_views log mean_{i<j} exp(−t‖uᵢ − uⱼ‖²), u = z / ‖z‖, t = 2.
final class AlignUniformObjective: Objective {
    let name = "align-uniform"
    let encoder: any FeatureLayer
    let projector: MLPHead
    let augmentation: AugmentPipeline
    private let backend: any Backend

    init(_ setup: ObjectiveSetup) throws {
        backend = setup.backend
        encoder = try setup.encoder()
        projector = try MLPHead.simclr(inputDimension: encoder.outputDimension, outputDimension: 16,
                                       seed: setup.config.seed, on: backend)
        augmentation = setup.twoViews { _ in .simclr(size: setup.imageSize) }
    }

    var trainable: [any Layer] { [encoder, projector] }

    func step(_ views: [Tensor], _ context: StepContext) throws -> Tensor {
        try backpropagate(views, through: trainable, group: context.group, on: backend) { z in
            let (loss, gradients) = try Self.loss(try backend.download(z[0]), try backend.download(z[1]), columns: z[0].shape[1])
            return (try backend.upload([Float(loss)], shape: []),
                    try gradients.map { try backend.upload($0.map(Float.init), shape: z[0].shape) })
        }
    }

    /// The loss and its gradients with respect to `z1` and `z2`, each `(N, D)` row-major.
    static func loss(_ z1: [Float], _ z2: [Float], columns d: Int, t: Double = 2) throws -> (Double, [[Double]]) {
        let n = z1.count / d
        func normalized(_ z: [Float]) -> (u: [Double], norms: [Double]) {
            var u = z.map(Double.init), norms = [Double](repeating: 0, count: n)
            for i in 0..<n {
                norms[i] = max((0..<d).reduce(0) { $0 + u[i * d + $1] * u[i * d + $1] }.squareRoot(), 1e-12)
                for k in 0..<d { u[i * d + k] /= norms[i] }
            }
            return (u, norms)
        }
        let (u1, n1) = normalized(z1), (u2, n2) = normalized(z2)
        var loss = 0.0, du1 = [Double](repeating: 0, count: n * d), du2 = du1
        for i in 0..<n {
            for k in 0..<d {
                let diff = u1[i * d + k] - u2[i * d + k]
                loss += diff * diff / Double(n)
                du1[i * d + k] += 2 * diff / Double(n)
                du2[i * d + k] -= 2 * diff / Double(n)
            }
        }
        func uniformity(_ u: [Double], into du: inout [Double]) {
            var weights = [Double](repeating: 0, count: n * n), total = 0.0
            for i in 0..<n {
                for j in (i + 1)..<n {
                    let d2 = (0..<d).reduce(0) { $0 + (u[i * d + $1] - u[j * d + $1]) * (u[i * d + $1] - u[j * d + $1]) }
                    weights[i * n + j] = exp(-t * d2)
                    total += weights[i * n + j]
                }
            }
            loss += 0.5 * log(total / Double(n * (n - 1) / 2))
            for i in 0..<n {
                for j in (i + 1)..<n {
                    let g = 0.5 * weights[i * n + j] / total * -t * 2
                    for k in 0..<d {
                        let diff = u[i * d + k] - u[j * d + k]
                        du[i * d + k] += g * diff
                        du[j * d + k] -= g * diff
                    }
                }
            }
        }
        uniformity(u1, into: &du1)
        uniformity(u2, into: &du2)
        // Through the normalisation: ∂L/∂z = (∂L/∂u − u (u · ∂L/∂u)) / ‖z‖.
        func throughNorm(_ du: [Double], _ u: [Double], _ norms: [Double]) -> [Double] {
            var dz = du
            for i in 0..<n {
                let dot = (0..<d).reduce(0) { $0 + du[i * d + $1] * u[i * d + $1] }
                for k in 0..<d { dz[i * d + k] = (du[i * d + k] - u[i * d + k] * dot) / norms[i] }
            }
            return dz
        }
        return (loss, [throughNorm(du1, u1, n1), throughNorm(du2, u2, n2)])
    }
}

/// The library's toy data: 1×12×12 images of 4 classes, a bright quadrant each.
func quadrants(count: Int, seed: UInt64) throws -> ImageDataset { try .quadrants(count: count, seed: seed) }

@Suite struct CustomObjectiveTests {
    let backend = ReferenceBackend()
    let data: TrainingData

    init() throws {
        data = TrainingData(train: try quadrants(count: 64, seed: 1), evalTrain: try quadrants(count: 32, seed: 2),
                            evalTest: try quadrants(count: 16, seed: 3), normalization: .identity(channels: 1))
    }

    func config(steps: Int) -> TrainConfig {
        var c = TrainConfig(method: .simclr)  // the run's length, batch, seed and optimizer defaults
        (c.batchSize, c.epochs, c.steps, c.evalEvery) = (16, 2, steps, 1)
        (c.encoderWidths, c.optimizer, c.baseLR) = ([32, 16], .adamw, 1e-3)
        return c
    }

    func trainer(steps: Int, folder: String) throws -> Trainer {
        let c = config(steps: steps)
        return try Trainer(objective: try AlignUniformObjective(ObjectiveSetup(config: c, data: data, backend: backend)),
                           config: c, data: data, backend: backend, outputFolder: folder,
                           progress: ProgressReporter(silent: true))
    }

    func folder() -> String { NSTemporaryDirectory() + "ssl-library-" + UUID().uuidString }

    @Test("the user's loss gradient matches central differences")
    func gradient() throws {
        let (n, d) = (5, 3)
        let z1 = (0..<(n * d)).map { Float(sin(Double($0) * 1.7)) }, z2 = (0..<(n * d)).map { Float(cos(Double($0) * 0.9)) }
        let (_, gradients) = try AlignUniformObjective.loss(z1, z2, columns: d)
        for (view, k) in [(0, 0), (0, 7), (1, 4), (1, 14)] {
            var plus = [z1, z2], minus = [z1, z2]
            plus[view][k] += 1e-3
            minus[view][k] -= 1e-3
            let numeric = (try AlignUniformObjective.loss(plus[0], plus[1], columns: d).0
                           - AlignUniformObjective.loss(minus[0], minus[1], columns: d).0) / 2e-3
            // Float inputs perturbed by 1e-3: the central difference is good to ~1e-4 relative.
            #expect(abs(numeric - gradients[view][k]) <= 1e-3 * max(1, abs(numeric)), "view \(view), element \(k)")
        }
    }

    @Test("a method outside the library trains through Trainer, stops, resumes and equals the uninterrupted run")
    func trainsAndResumes() throws {
        let straightFolder = folder(), resumedFolder = folder()
        defer { for f in [straightFolder, resumedFolder] { try? FileManager.default.removeItem(atPath: f) } }
        let straight = try trainer(steps: 6, folder: straightFolder)
        try straight.run()
        #expect(straight.history.losses.count == 6 && straight.history.losses.allSatisfy(\.isFinite))
        #expect(straight.history.knn.count == 2, "kNN after each of the two epochs")
        #expect(straight.history.losses.last! < straight.history.losses.first!, "\(straight.history.losses)")

        try trainer(steps: 3, folder: resumedFolder).run()  // stops inside epoch 0 (4 steps per epoch)
        let resumed = try trainer(steps: 6, folder: resumedFolder)
        try resumed.resume(from: resumed.files.checkpoint)
        try resumed.run()
        #expect(resumed.history.losses.map(\.bitPattern) == straight.history.losses.map(\.bitPattern))
        for (a, b) in zip(resumed.objective.parameters, straight.objective.parameters) {
            #expect(try backend.download(a.value) == backend.download(b.value), "\(a.name)")
        }
        let log = try String(contentsOfFile: resumed.files.steps, encoding: .utf8)
        #expect(log.split(separator: "\n").count == 6)
    }

    @Test("a checkpoint of another objective is refused, naming both")
    func otherObjective() throws {
        let f = folder()
        defer { try? FileManager.default.removeItem(atPath: f) }
        try trainer(steps: 2, folder: f).run()
        let builtIn = try Trainer(config: config(steps: 4), data: data, backend: backend, outputFolder: f,
                                  progress: ProgressReporter(silent: true))
        #expect {
            try builtIn.resume(from: builtIn.files.checkpoint)
        } throws: { error in
            let text = "\(error)"
            return text.contains("align-uniform") && text.contains("simclr")
        }
    }
}
