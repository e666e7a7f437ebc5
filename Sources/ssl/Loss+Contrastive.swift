// `ssl loss ntxent | moco | memorybank`: the contrastive objectives on .npy inputs
// (Sources/SSLCore/Losses/NTXent.swift, MoCo.swift, MemoryBank.swift).
import ArgumentParser
import SSLCommandLine
import SSLCore

struct NTXentLossCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ntxent",
        abstract: "SimCLR NT-Xent of two views, averaged over the 2N rows.",
        discussion: "Writes loss, grad_z1 and grad_z2 (w.r.t. the raw, unnormalised embeddings).")

    @Option(help: "The first view's embeddings Z1, (N, D).") var z1: String
    @Option(help: "The second view's embeddings Z2, (N, D); row i is the positive of Z1's row i.") var z2: String
    @Option(help: "Softmax temperature T (SimCLR's 0.1).") var temperature: Float = NTXentReference.defaultTemperature
    @Option(help: "On a device: fused (the 2N×2N logits never in device memory), gemm (logits through CLBlast), or auto.")
    var algorithm: NTXentAlgorithm = .automatic
    @Option(help: "Output folder.") var out: String
    @OptionGroup var device: DeviceOptions

    func run() throws {
        let backend = try device.backend()
        let r = try backend.ntXent(try readTensor(z1, name: "z1", rank: 2, on: backend),
                                   try readTensor(z2, name: "z2", rank: 2, on: backend), temperature: temperature,
                                   algorithm: algorithm)
        let folder = try OutputFolder(out, inputs: [z1, z2])
        try folder.write([("loss", .tensor(r.loss)), ("grad_z1", .tensor(r.dZ1)), ("grad_z2", .tensor(r.dZ2))], on: backend)
    }
}

struct MoCoLossCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moco",
        abstract: "MoCo v2 InfoNCE of queries against their keys and a queue of negatives.",
        discussion: "Writes loss and grad_q (w.r.t. the raw queries; the keys receive no gradient).")

    @Option(help: "Queries Q, (N, D), raw.") var q: String
    @Option(help: "Keys K, (N, D), raw; row i is the positive of query i.") var k: String
    @Option(help: "The queue of negative keys, (K, D), one L2-normalised key per row.") var queue: String
    @Option(help: "Softmax temperature T (MoCo v2's 0.2).") var temperature: Float = MoCoReference.defaultTemperature
    @Option(help: "Output folder.") var out: String
    @OptionGroup var device: DeviceOptions

    func run() throws {
        let backend = try device.backend()
        let r = try backend.moco(q: try readTensor(q, name: "q", rank: 2, on: backend),
                                 k: try readTensor(k, name: "k", rank: 2, on: backend),
                                 queue: try readTensor(queue, name: "queue", rank: 2, on: backend),
                                 temperature: temperature)
        let folder = try OutputFolder(out, inputs: [q, k, queue])
        try folder.write([("loss", .tensor(r.loss)), ("grad_q", .tensor(r.dQ))], on: backend)
    }
}

struct MemoryBankLossCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memorybank",
        abstract: "Instance discrimination against a memory bank: full softmax, or NCE with --negatives.",
        discussion: """
            Writes loss, grad_z (w.r.t. the raw embeddings) and bank_next (rows INDICES updated with \
            momentum, then renormalised); with --negatives also normalizer, NCE's Z.
            """)

    @Option(help: "Embeddings Z, (N, D), raw.") var z: String
    @Option(help: "Each sample's own bank row, a 1-D integer array of N distinct values (int64, int32 or uint8).")
    var indices: String
    @Option(help: "The memory bank, (B, D), L2-normalised rows.") var bank: String
    @Option(help: "Softmax temperature T (lemniscate's 0.07).") var temperature: Float = MemoryBankReference.defaultTemperature
    @Option(help: "NCE with this many negatives per sample (lemniscate's --nce-k 4096); full softmax when absent.")
    var negatives: Int?
    @Option(help: "Seed of the negative sampler (NCE only).") var seed: UInt64 = 0
    @Option(help: "NCE's normaliser Z from an earlier call (lemniscate fixes it at the first call); computed when absent.")
    var normalizer: Float?
    @Option(help: "The bank's keep rate in its momentum update (lemniscate's --nce-m 0.5).")
    var momentum: Float = MemoryBankReference.defaultMomentum
    @Option(help: "Output folder.") var out: String
    @OptionGroup var device: DeviceOptions

    func validate() throws {
        if let negatives, negatives < 1 { throw ValidationError("--negatives must be at least 1, got \(negatives)") }
        if let normalizer, !(normalizer > 0 && normalizer.isFinite) {
            throw ValidationError("--normalizer must be a positive number, got \(normalizer)")
        }
        if normalizer != nil && negatives == nil { throw ValidationError("--normalizer needs --negatives (NCE)") }
    }

    func run() throws {
        let array = try NumPy.read(indices)
        try array.requireRank(1, name: "indices")
        let rows = try array.integers().map { Int($0) }
        let backend = try device.backend()
        let r = try backend.memoryBank(
            z: try readTensor(z, name: "z", rank: 2, on: backend), indices: rows,
            bank: try readTensor(bank, name: "bank", rank: 2, on: backend), temperature: temperature,
            negatives: negatives, seed: seed, normalizer: try normalizer.map { try backend.upload([$0], shape: []) },
            momentum: momentum)
        let folder = try OutputFolder(out, inputs: [z, indices, bank])
        try folder.write([("loss", .tensor(r.loss)), ("grad_z", .tensor(r.dZ)), ("bank_next", .tensor(r.bankNext))]
                         + (r.normalizer.map { [("normalizer", .tensor($0))] } ?? []), on: backend)
    }
}
