// `ssl op …`: single ops on .npy files, for checking the kernels against NumPy.
import ArgumentParser
import SSLCommandLine
import SSLCore

struct OpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "op",
        abstract: "Run one op on .npy inputs and write its result as .npy (float32).",
        subcommands: [Gemm.self, CrossCorrelation.self, Sinkhorn.self, KMeansOpCommand.self])

    struct Gemm: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "C = alpha · op(A) · op(B), through CLBlast on OpenCL.")

        @Option(help: "A, a 2-D float array: (M, K), or (K, M) with --transpose-a.") var a: String
        @Option(help: "B, a 2-D float array: (K, N), or (N, K) with --transpose-b.") var b: String
        @Flag(help: "Use Aᵀ.") var transposeA = false
        @Flag(help: "Use Bᵀ.") var transposeB = false
        @Option(help: "Scale of the product.") var alpha: Float = 1
        @Option(help: "Output .npy path for C, (M, N).") var out: String
        @OptionGroup var device: DeviceOptions

        func run() throws {
            try refuseOverwriting([a, b], with: out)
            let (av, ashape) = try readMatrix(a, name: "A")
            let (bv, bshape) = try readMatrix(b, name: "B")
            let backend = try device.backend()
            let c = try backend.matmul(try backend.upload(av, shape: ashape), try backend.upload(bv, shape: bshape),
                                       transposeA: transposeA, transposeB: transposeB, alpha: alpha)
            try save(c, on: backend, to: out, what: "product C")
        }
    }

    struct CrossCorrelation: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "xcorr",
            abstract: "Barlow Twins cross-correlation C = BN(Z1)ᵀ BN(Z2) / N (batch statistics, biased variance).")

        @Option(help: "Z1, (N, D).") var z1: String
        @Option(help: "Z2, (N, D).") var z2: String
        @Option(help: "Added to the variance before the square root.") var eps: Float = 1e-5
        @Option(help: "Output .npy path for C, (D, D).") var out: String
        @OptionGroup var device: DeviceOptions

        func run() throws {
            try refuseOverwriting([z1, z2], with: out)
            let (v1, s1) = try readMatrix(z1, name: "Z1")
            let (v2, s2) = try readMatrix(z2, name: "Z2")
            let backend = try device.backend()
            let c = try backend.crossCorrelation(try backend.upload(v1, shape: s1), try backend.upload(v2, shape: s2), eps: eps)
            try save(c, on: backend, to: out, what: "cross-correlation")
        }
    }

    struct Sinkhorn: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "SwAV codes by Sinkhorn-Knopp: scores (B, K) to codes (B, K), each row summing to 1.")

        @Option(help: "Scores S, (B, K).") var scores: String
        @Option(help: "Entropic regularisation ε (SwAV's default 0.05); codes stay finite for any ε from 3e-39 (1/ε must fit a float32).") var epsilon: Float = 0.05
        @Option(help: "Sinkhorn iterations (SwAV's default 3).") var iterations: Int = 3
        @Option(help: "Output .npy path for the codes, (B, K).") var out: String
        @OptionGroup var device: DeviceOptions

        func validate() throws {
            guard epsilon > 0, epsilon.isFinite else { throw ValidationError("--epsilon must be positive, got \(epsilon)") }
            guard (1...IterativeSolvers.maxIterations).contains(iterations) else {
                throw ValidationError("--iterations must be 1...\(IterativeSolvers.maxIterations), got \(iterations)")
            }
        }

        func run() throws {
            try refuseOverwriting([scores], with: out)
            let (v, shape) = try readMatrix(scores, name: "scores")
            let backend = try device.backend()
            let q = try backend.sinkhorn(try backend.upload(v, shape: shape), epsilon: epsilon, iterations: iterations)
            try save(q, on: backend, to: out, what: "codes")
        }
    }
}
