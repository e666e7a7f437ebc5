// `ssl loss barlow` and `ssl loss vicreg`: the redundancy-reduction objectives on .npy views.
import ArgumentParser
import SSLCommandLine
import SSLCore

struct BarlowLossCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "barlow",
        abstract: "Barlow Twins: L = Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij², C = BN(Z1)ᵀ BN(Z2) / N.",
        discussion: """
            Writes loss.npy (a scalar), c.npy (D, D), grad_z1.npy and grad_z2.npy (N, D) into --out. \
            With --form gram (the default on a device when N < D) the loss and gradients go through \
            the N×N Gram matrices of the batch and C is made only for c.npy.
            """)

    @Option(help: "The first view's embeddings Z1, (N, D) with N ≥ 2.") var z1: String
    @Option(help: "The second view's embeddings Z2, (N, D).") var z2: String
    @Option(help: "Weight λ of the off-diagonal (redundancy) term (the paper's 0.0051).")
    var lambda: Float = BarlowTwinsReference.defaultLambda
    @Option(help: "Added to the batch variance before the square root (BatchNorm1d's 1e-5).")
    var eps: Float = BarlowTwinsReference.defaultEps
    @Option(help: "Through the D×D matrix C (feature), the N×N Gram matrices (gram), or auto: gram when N < D on a device, the definition on the reference.")
    var form: RedundancyForm = .automatic
    @Option(help: "Output folder; created if missing.") var out: String
    @OptionGroup var device: DeviceOptions

    func run() throws {
        let backend = try device.backend()
        let r = try backend.barlowTwins(try readTensor(z1, name: "z1", rank: 2, on: backend),
                                        try readTensor(z2, name: "z2", rank: 2, on: backend),
                                        lambda: lambda, eps: eps, form: form)
        let folder = try OutputFolder(out, inputs: [z1, z2])
        try folder.write([("loss", .tensor(r.loss)), ("c", .tensor(try r.c)), ("grad_z1", .tensor(r.dZ1)), ("grad_z2", .tensor(r.dZ2))],
                         on: backend)
    }
}

struct VICRegLossCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vicreg",
        abstract: "VICReg: sim · invariance + std · variance + cov · covariance of two views.",
        discussion: """
            Writes loss.npy (a scalar), parts.npy ([invariance, variance, covariance], unweighted), \
            grad_z1.npy and grad_z2.npy (N, D) into --out.
            """)

    @Option(help: "The first view's embeddings Z1, (N, D) with N ≥ 2.") var z1: String
    @Option(help: "The second view's embeddings Z2, (N, D).") var z2: String
    @Option(help: "Weight of the invariance (mean squared error) term (the paper's 25).")
    var simCoeff: Float = VICRegReference.defaultSimCoeff
    @Option(help: "Weight of the variance (hinge on the standard deviation) term (the paper's 25).")
    var stdCoeff: Float = VICRegReference.defaultStdCoeff
    @Option(help: "Weight of the covariance (off-diagonal) term (the paper's 1).")
    var covCoeff: Float = VICRegReference.defaultCovCoeff
    @Option(help: "The covariance term through the D×D matrices K (feature), the N×N Gram matrices (gram), or auto: gram when N < D on a device, the definition on the reference.")
    var form: RedundancyForm = .automatic
    @Option(help: "Output folder; created if missing.") var out: String
    @OptionGroup var device: DeviceOptions

    func run() throws {
        let backend = try device.backend()
        let r = try backend.vicreg(try readTensor(z1, name: "z1", rank: 2, on: backend),
                                   try readTensor(z2, name: "z2", rank: 2, on: backend),
                                   simCoeff: simCoeff, stdCoeff: stdCoeff, covCoeff: covCoeff, form: form)
        let folder = try OutputFolder(out, inputs: [z1, z2])
        try folder.write([("loss", .tensor(r.loss)), ("parts", .tensor(r.parts)), ("grad_z1", .tensor(r.dZ1)),
                          ("grad_z2", .tensor(r.dZ2))], on: backend)
    }
}
