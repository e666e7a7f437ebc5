// `ssl loss swav` and `ssl op kmeans`: the clustering objectives on .npy inputs
// (Sources/SSLCore/Losses/SwAV.swift, DeepCluster.swift).
import ArgumentParser
import Foundation
import SSLCommandLine
import SSLCore

struct SwAVLossCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swav",
        abstract: "SwAV's swapped prediction of Sinkhorn codes between crops.",
        discussion: """
            Codes come from the two global crops Z1 and Z2; every other crop predicts each code. \
            Inputs are used as given (SwAV's trainer L2-normalises z and the prototypes first). \
            Writes loss, codes_1, codes_2, and for every crop v (1, 2, then the extra crops 3, 4, …) \
            scores_v, grad_scores_v and grad_zv, and grad_prototypes.
            """)

    @Option(help: "The first global crop's embeddings Z1, (N, D).") var z1: String
    @Option(help: "The second global crop's embeddings Z2, (N, D).") var z2: String
    @Option(help: "The prototypes P, (K, D).") var prototypes: String
    @Option(help: "Extra crops' embeddings, comma-separated .npy paths, each (N, D) (multi-crop).")
    var extraCrops: String?
    @Option(help: "Sinkhorn's entropic regularisation ε (SwAV's 0.05).") var epsilon: Float = SwAVReference.defaultEpsilon
    @Option(help: "Sinkhorn iterations (SwAV's 3).") var iterations: Int = SwAVReference.defaultIterations
    @Option(help: "Softmax temperature T of the prediction (SwAV's 0.1).")
    var temperature: Float = SwAVReference.defaultTemperature
    @Option(help: "Output folder.") var out: String
    @OptionGroup var device: DeviceOptions

    func validate() throws {
        guard epsilon > 0, epsilon.isFinite else { throw ValidationError("--epsilon must be positive, got \(epsilon)") }
        guard (1...IterativeSolvers.maxIterations).contains(iterations) else {
            throw ValidationError("--iterations must be 1...\(IterativeSolvers.maxIterations), got \(iterations)")
        }
        guard temperature > 0, temperature.isFinite else {
            throw ValidationError("--temperature must be positive, got \(temperature)")
        }
    }

    func run() throws {
        let backend = try device.backend()
        let extras = extraCrops.map { $0.split(separator: ",").map(String.init) } ?? []
        let paths = [z1, z2] + extras
        let crops = try paths.enumerated().map { v, path in try readTensor(path, name: "z\(v + 1)", rank: 2, on: backend) }
        let r = try backend.swav(crops: crops, prototypes: try readTensor(prototypes, name: "prototypes", rank: 2, on: backend),
                                 epsilon: epsilon, iterations: iterations, temperature: temperature, queues: nil)
        let folder = try OutputFolder(out, inputs: [z1, z2, prototypes] + extras)
        var files: [(name: String, content: OutputFolder.Content)] = [("loss", .tensor(r.loss))]
        files += r.codes.enumerated().map { ("codes_\($0 + 1)", .tensor($1)) }
        for v in crops.indices {
            files += [("scores_\(v + 1)", .tensor(r.scores[v])), ("grad_scores_\(v + 1)", .tensor(r.dScores[v])),
                      ("grad_z\(v + 1)", .tensor(r.dZ[v]))]
        }
        try folder.write(files + [("grad_prototypes", .tensor(r.dPrototypes))], on: backend)
    }
}

struct KMeansOpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kmeans",
        abstract: "DeepCluster's k-means: GEMM distances, arg-min assignment, mean update, empty clusters split.",
        discussion: """
            Starts from K distinct rows of X chosen by a seeded permutation. Writes DIR/centroids.npy \
            (K, D) float32, DIR/assignments.npy (N,) int64 and DIR/inertia.npy, the sum of squared \
            distances to the assigned centroids.
            """)

    @Option(help: "The data X, (N, D).") var x: String
    @Option(help: "Number of clusters K, 1 ≤ K ≤ N.") var k: Int
    @Option(help: "Update steps (DeepCluster's 20).") var iterations: Int = KMeansReference.defaultIterations
    @Option(help: "Seed of the initial permutation.") var seed: UInt64 = 0
    @Option(help: "Output folder.") var out: String
    @OptionGroup var device: DeviceOptions

    func validate() throws {
        guard k >= 1 else { throw ValidationError("--k must be at least 1, got \(k)") }
        guard (0...IterativeSolvers.maxIterations).contains(iterations) else {
            throw ValidationError("--iterations must be 0...\(IterativeSolvers.maxIterations), got \(iterations)")
        }
    }

    func run() throws {
        let backend = try device.backend()
        let r = try backend.kmeans(try readTensor(x, name: "X", rank: 2, on: backend), k: k, iterations: iterations,
                                   seed: seed)
        let folder = try OutputFolder(out, inputs: [x])
        try folder.write([("centroids", .tensor(r.centroids)), ("assignments", .labels(r.assignments)),
                          ("inertia", .tensor(r.inertia))], on: backend)
    }
}
