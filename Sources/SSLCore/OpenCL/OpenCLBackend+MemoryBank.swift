// The memory bank on the device (Kernels/contrastive.cl). Full softmax: one GEMM for v·bankᵀ,
// label_cross_entropy, one GEMM for dV. NCE: nce_scores gathers the 1 + m scored rows, Z from
// nce_log_normalizer unless given, nce_rows for the loss terms and their gradients,
// nce_gather_gradient for dV. Then the normalisation's backward and memory_bank_update.
// The negatives are drawn on the host (MemoryBankReference.sampleNegatives) so that both backends
// and the fixtures score the same rows; they are uploaded, never read back.
import Foundation

extension OpenCLBackend {
    public func memoryBank(z: Tensor, indices: [Int], bank: Tensor, temperature: Float, negatives: Int?,
                           seed: UInt64, normalizer: Tensor?, momentum: Float) throws -> MemoryBankResult {
        let op = "memoryBank"
        let (n, d, b) = try MemoryBankReference.validate(
            z: z.shape, indices: indices, bank: bank.shape, temperature: temperature, negatives: negatives,
            normalizer: normalizer?.shape, momentum: momentum)
        let eps = ContrastiveRules.normalizeEps
        let invT = Float(1 / Double(temperature)), invN = Float(1 / Double(n))
        let v = try l2Normalize(z, eps: eps)
        let labels = KernelArgument.buffer(try uploadIndices(indices, op: op))
        let rowLoss = try empty([1, n])
        let dV: Tensor
        var usedZ: Tensor? = nil
        if let negatives {
            let cols = negatives + 1, count = n * cols
            let scored = KernelArgument.buffer(try uploadIndices(
                MemoryBankReference.sampleNegatives(indices: indices, negatives: negatives, bankSize: b, seed: seed), op: op))
            let logits = try empty([n, cols])
            try launchElements("nce_scores", in: .contrastive, count: count, arguments: [
                try arg(v, op), try arg(bank, op), scored, try arg(logits, op), try int32(count, op),
                try int32(cols, op), try int32(d, op), .float(invT),
            ])
            let z0: Tensor
            if let normalizer {
                z0 = normalizer
            } else {
                z0 = try empty([])
                try launchRows("nce_log_normalizer", in: .contrastive, rows: 1, length: count, arguments: [
                    try arg(logits, op), try arg(z0, op), try int32(count, op),
                    .float(Float(log(Double(b)) - log(Double(count)))),
                ])
            }
            usedZ = z0
            let noise = Double(negatives) / Double(b)
            let dScores = try empty([n, cols])
            try launchRows("nce_rows", in: .contrastive, rows: n, length: cols, arguments: [
                try arg(logits, op), try arg(z0, op), try arg(rowLoss, op), try arg(dScores, op), try int32(cols, op),
                .float(Float(noise + MemoryBankReference.nceEpsilon)), .float(Float(log(noise))),
                .float(Float(1 / (Double(n) * Double(temperature)))),
            ])
            dV = try empty([n, d])
            try launchElements("nce_gather_gradient", in: .contrastive, count: n * d, arguments: [
                try arg(dScores, op), try arg(bank, op), scored, try arg(dV, op), try int32(n, op),
                try int32(cols, op), try int32(d, op),
            ])
        } else {
            let logits = try matmul(v, bank, transposeB: true)  // (N, B)
            let dLogits = try empty([n, b])
            try launchRows("label_cross_entropy", in: .contrastive, rows: n, length: b, arguments: [
                try arg(logits, op), labels, try arg(rowLoss, op), try arg(dLogits, op), try int32(b, op),
                .float(invT), .float(invN),
            ])
            dV = try matmul(dLogits, bank)
        }
        let bankNext = try copy(bank)
        try launchRows("memory_bank_update", in: .contrastive, rows: n, length: d, arguments: [
            try arg(bank, op), try arg(v, op), labels, try arg(bankNext, op), try int32(d, op), .float(momentum), .float(eps),
        ])
        return MemoryBankResult(loss: try mean(rowLoss, axis: 1).reshaped([]), dZ: try l2NormalizeBackward(z, dV, eps: eps),
                                bankNext: bankNext, normalizer: usedZ)
    }
}
