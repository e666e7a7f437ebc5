// Instance discrimination with a memory bank (full non-parametric softmax or NCE): the protocol,
// its result, shape rules, the negative sampler, and the Double reference with its backward.
import Foundation

/// Instance discrimination with a memory bank of normalised features.
///
/// Wu, Xiong, Yu, Lin, *Unsupervised Feature Learning via Non-Parametric Instance Discrimination*
/// (CVPR 2018), following the official `zhirongw/lemniscate.pytorch`. With v = normalize(z)
/// `(N, D)`, a bank `(B, D)` and each sample's own bank row `y_n` as its class:
///
/// - **Full softmax** (`lib/LinearAverage.py` + `nn.CrossEntropyLoss`):
///   `L = (1/N) Σ_n [ log Σ_j exp(⟨v_n, w_j⟩/T) − ⟨v_n, w_{y_n}⟩/T ]` over all B bank rows.
/// - **NCE** with m negatives (`lib/NCEAverage.py` + `lib/NCECriterion.py`): per sample, the
///   columns are its own row y_n and m rows drawn uniformly from the bank (with replacement; a
///   draw may hit y_n). `P_nj = exp(⟨v_n, w_j⟩/T) / Z`, `P_noise = 1/B`, and with
///   `c = m·P_noise + 1e-7` (NCECriterion's eps),
///   `L = −(1/N) Σ_n [ log(P_n0 / (P_n0 + c)) + Σ_{k=1…m} log(m·P_noise / (P_nk + c)) ]`.
///   `Z = B · mean_{n,j} exp(⟨v_n, w_j⟩/T)` over the N·(m+1) scored pairs, as NCEAverage computes
///   it at its first call and then keeps: pass it back as `normalizer` to reuse it (lemniscate
///   does so for the whole run); with `normalizer == nil` it is computed from this call and
///   returned. Z is a constant for the gradient, as in the official backward.
/// - **Bank update** (both backwards): rows y_n of `bankNext` are normalize(m_b·w_{y_n} + (1 − m_b)·v_n)
///   with m_b = 0.5, from the old bank; every other row is copied.
///
/// Defaults: T = 0.07, m = 4096 negatives (lemniscate's `--nce-k`), bank momentum 0.5.
///
/// Where this differs from the official code: negatives come from ``MemoryBankReference/sampleNegatives(indices:negatives:bankSize:seed:)``
/// (SplitMix64 from `seed`) instead of NCEAverage's `AliasMethod` over uniform unigrams, so a
/// call is reproducible; both are uniform over the bank. Indices must be distinct (the official
/// `index_copy_` keeps an arbitrary one of repeated rows). The bank update divides by
/// max(‖w‖, 1e-12) where the official divides by ‖w‖. The embeddings are normalised with
/// F.normalize (lemniscate's models end in a Normalize layer, x / ‖x‖, without the eps).
///
/// ```swift
/// var r = try backend.memoryBank(z: z, indices: idx, bank: bank, temperature: 0.07, negatives: 4096,
///                                seed: step, normalizer: z0, momentum: 0.5)
/// bank = r.bankNext; z0 = r.normalizer
/// ```
public protocol MemoryBankOps {
    /// The instance-discrimination loss, dL/dz and the updated bank.
    /// - Parameters:
    ///   - z: `(N, D)`, N ≥ 1, the embeddings (raw; normalised here).
    ///   - indices: N distinct bank rows, each sample's own instance.
    ///   - bank: `(B, D)` normalised features; not modified.
    ///   - temperature: T > 0.
    ///   - negatives: nil for the full softmax over all B rows; m ≥ 1 for NCE with m negatives.
    ///   - seed: the negative sampler's seed (NCE only).
    ///   - normalizer: NCE's Z, shape `[]`, positive; nil to compute it from this call.
    ///   - momentum: the bank's keep rate m_b ∈ [0, 1].
    /// - Returns: loss `[]`, dZ `(N, D)`, bankNext `(B, D)`, and for NCE the Z used, `[]`.
    func memoryBank(z: Tensor, indices: [Int], bank: Tensor, temperature: Float, negatives: Int?,
                    seed: UInt64, normalizer: Tensor?, momentum: Float) throws -> MemoryBankResult
}

/// What ``MemoryBankOps/memoryBank(z:indices:bank:temperature:negatives:seed:normalizer:momentum:)`` returns.
public struct MemoryBankResult {
    /// The mean loss, a scalar (shape `[]`).
    public let loss: Tensor
    /// dL/dz, `(N, D)`.
    public let dZ: Tensor
    /// The bank after the momentum update of rows `indices`, `(B, D)`, a new tensor.
    public let bankNext: Tensor
    /// NCE's normaliser Z (shape `[]`): the input, or the value computed by this call; nil for the full softmax.
    public let normalizer: Tensor?
}

/// The memory-bank objective in Double on row-major `[Double]`: the reference backend's
/// implementation and the finite-difference ground truth.
public enum MemoryBankReference {
    /// lemniscate's `--nce-t`.
    public static let defaultTemperature: Float = 0.07
    /// lemniscate's `--nce-m`, the bank's keep rate.
    public static let defaultMomentum: Float = 0.5
    /// lemniscate's `--nce-k`.
    public static let defaultNegatives = 4096
    /// NCECriterion's `eps`, added to each denominator.
    public static let nceEpsilon = 1e-7

    /// What ``backward(_:)`` rereads.
    public struct Cache {
        /// The sizes (N, D) and T of the forward call.
        public let n: Int, d: Int, temperature: Double
        /// The raw z, `(N, D)`, for the normalisation's backward.
        public let z: [Double]
        /// `(B, D)`.
        public let bank: [Double]
        /// NCE: the bank row of each scored column, `(N, 1 + m)`, column 0 the sample's own row;
        /// nil for the full softmax, whose columns are all B rows.
        public let scored: [Int]?
        /// The sample's own column per row: `indices` (full softmax) or 0 (NCE).
        public let labels: [Int]
        /// Full softmax: softmax of the logits, `(N, B)`; NCE: P_model, `(N, 1 + m)`.
        public let probabilities: [Double]
        /// NCE's c = m/B + 1e-7.
        public let noiseMass: Double
    }

    /// The rules of both backends: returns (N, D, B).
    static func validate(z: [Int], indices: [Int], bank: [Int], temperature: Float, negatives: Int?,
                         normalizer: [Int]?, momentum: Float) throws -> (n: Int, d: Int, b: Int) {
        let op = "memoryBank"
        let (n, d) = try Shapes.matrix(z, op: op, name: "z")
        let (b, _) = try Shapes.matrix(bank, op: op, name: "bank")
        try ContrastiveRules.sameFeatures(z, bank, op: op, names: ("z", "bank"))
        guard indices.count == n else {
            throw SSLError.shapeMismatch(op: op, detail: "z \(shapeText(z)) has \(n) rows but there are \(indices.count) indices")
        }
        var seen = Set<Int>()
        for (i, index) in indices.enumerated() {
            guard index >= 0, index < b else {
                throw SSLError.invalidArgument(op: op, detail: "indices[\(i)] = \(index) is out of range for a bank of \(b) rows")
            }
            guard seen.insert(index).inserted else {
                throw SSLError.invalidArgument(op: op, detail: "indices[\(i)] = \(index) repeats an earlier index; indices must be distinct")
            }
        }
        try ContrastiveRules.temperature(temperature, op: op)
        try ContrastiveRules.momentum(momentum, op: op)
        if let negatives, negatives < 1 {
            throw SSLError.invalidArgument(op: op, detail: "negatives must be at least 1, got \(negatives)")
        }
        if let normalizer {
            guard negatives != nil else {
                throw SSLError.invalidArgument(op: op, detail: "a normalizer is only used by NCE (negatives given)")
            }
            guard normalizer.isEmpty else {
                throw SSLError.shapeMismatch(op: op, detail: "normalizer must be a scalar (shape ()), got \(shapeText(normalizer))")
            }
        }
        return (n, d, b)
    }

    /// NCE's scored bank rows, `(N, 1 + m)` row-major: column 0 is `indices[n]`, columns 1…m are
    /// uniform draws from [0, B). Deterministic: SplitMix64 seeded with `seed`, N·m draws in
    /// row-major order, each mapped to the high word of draw · B (bias below B/2⁶⁴).
    public static func sampleNegatives(indices: [Int], negatives: Int, bankSize: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix64(seed: seed)
        var rows: [Int] = []
        rows.reserveCapacity(indices.count * (negatives + 1))
        for index in indices {
            rows.append(index)
            for _ in 0..<negatives { rows.append(rng.below(bankSize)) }
        }
        return rows
    }

    /// - Parameters:
    ///   - z: `(N, D)`, row-major.
    ///   - indices: the N samples' rows of the bank.
    ///   - bank: `(B, D)`, row-major.
    ///   - n: N.
    ///   - d: D.
    ///   - bankSize: B.
    ///   - temperature: T.
    ///   - scored: nil for the full softmax; NCE's rows from ``sampleNegatives(indices:negatives:bankSize:seed:)``.
    ///   - normalizer: NCE's Z, or nil to compute it.
    ///   - momentum: the bank update's m_b.
    /// - Returns: the loss, the Z used (NCE), the updated bank `(B, D)`, and the cache.
    public static func forward(z: [Double], indices: [Int], bank: [Double], n: Int, d: Int, bankSize: Int,
                               temperature: Double, scored: [Int]?, normalizer: Double?, momentum: Double)
        -> (loss: Double, normalizer: Double?, bankNext: [Double], cache: Cache) {
        let eps = Double(ContrastiveRules.normalizeEps)
        let v = L2Normalize.forward(z, rows: n, cols: d, eps: eps)
        var loss = 0.0, usedZ: Double? = nil, probabilities: [Double], labels: [Int], noiseMass = 0.0
        if let scored {
            let cols = scored.count / n, m = Double(cols - 1), noise = 1 / Double(bankSize)
            let logits = (0..<(n * cols)).map { rowDot(v, $0 / cols, bank, scored[$0], d) / temperature }
            // Z = B · mean(exp(logits)), taken in the log domain.
            let logZ = normalizer.map { log($0) } ?? logSumExp(logits) - log(Double(n * cols)) + log(Double(bankSize))
            usedZ = normalizer ?? exp(logZ)
            noiseMass = m * noise + nceEpsilon
            probabilities = logits.map { exp($0 - logZ) }
            for i in 0..<n {
                let p0 = probabilities[i * cols]
                loss -= log(p0 / (p0 + noiseMass))  // eq 5.1: P(origin = data) for the sample itself
                for j in 1..<cols {                 // eq 5.2: P(origin = noise) for each negative
                    loss -= log(m * noise / (probabilities[i * cols + j] + noiseMass))
                }
            }
            labels = [Int](repeating: 0, count: n)
        } else {
            probabilities = [Double](repeating: 0, count: n * bankSize)
            for i in 0..<n {
                let logits = (0..<bankSize).map { rowDot(v, i, bank, $0, d) / temperature }
                let lse = logSumExp(logits)
                loss += lse - logits[indices[i]]
                for j in 0..<bankSize { probabilities[i * bankSize + j] = exp(logits[j] - lse) }
            }
            labels = indices
        }
        // Bank rows y_n ← normalize(m_b·w + (1 − m_b)·v_n), from the bank before this step.
        var bankNext = bank
        for (i, row) in indices.enumerated() {
            let w = (0..<d).map { momentum * bank[row * d + $0] + (1 - momentum) * v[i * d + $0] }
            let updated = L2Normalize.forward(w, rows: 1, cols: d, eps: eps)
            for c in 0..<d { bankNext[row * d + c] = updated[c] }
        }
        let cache = Cache(n: n, d: d, temperature: temperature, z: z, bank: bank, scored: scored, labels: labels,
                          probabilities: probabilities, noiseMass: noiseMass)
        return (loss / Double(n), usedZ, bankNext, cache)
    }

    /// - Returns: dZ `(N, D)`.
    public static func backward(_ cache: Cache) -> [Double] {
        let n = cache.n, d = cache.d, cols = cache.probabilities.count / n
        let scale = 1 / (Double(n) * cache.temperature)
        var dV = [Double](repeating: 0, count: n * d)
        for i in 0..<n {
            for j in 0..<cols {
                let p = cache.probabilities[i * cols + j]
                // dL/d⟨v, w⟩: full softmax (p − [j = y])/(N·T); NCE, with dP/d⟨v, w⟩ = P/T,
                // −c/(P + c)/(N·T) for the positive and P/(P + c)/(N·T) for each noise sample.
                let g: Double
                if cache.scored == nil {
                    g = (p - (j == cache.labels[i] ? 1 : 0)) * scale
                } else {
                    g = (j == 0 ? -cache.noiseMass : p) / (p + cache.noiseMass) * scale
                }
                let row = cache.scored?[i * cols + j] ?? j
                for c in 0..<d { dV[i * d + c] += g * cache.bank[row * d + c] }
            }
        }
        return L2Normalize.backward(x: cache.z, dY: dV, rows: n, cols: d, eps: Double(ContrastiveRules.normalizeEps))
    }
}
