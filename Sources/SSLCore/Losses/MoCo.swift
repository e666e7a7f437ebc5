// MoCo v2's InfoNCE against a queue, the queue's FIFO update and the key encoder's momentum
// update: the protocol, its result, shape rules, and the Double reference with its backward.
import Foundation

/// MoCo's InfoNCE loss with a queue of negative keys, its FIFO queue and momentum update.
///
/// He, Fan, Wu, Xie, Girshick, *Momentum Contrast for Unsupervised Visual Representation
/// Learning* (CVPR 2020) and Chen, Fan, Girshick, He, *Improved Baselines with Momentum
/// Contrastive Learning* (MoCo v2, 2020), following the official `facebookresearch/moco`,
/// `moco/builder.py`:
///
///     q̂ = normalize(q),  k̂ = normalize(k)            (N, D); k̂ receives no gradient
///     l_pos_n = ⟨q̂_n, k̂_n⟩,  l_neg_nj = ⟨q̂_n, queue_j⟩  (N, 1), (N, K)
///     logits = [l_pos, l_neg] / T,  label 0
///     L = (1/N) Σ_n [ log Σ_c exp(logits_nc) − logits_n0 ]   (CrossEntropyLoss, mean)
///
/// Defaults: T = 0.2 (MoCo v2's `--moco-t 0.2`; builder.py's own default is 0.07, MoCo v1),
/// momentum m = 0.999, queue K = 65536 rows in the paper.
///
/// - The queue is `(K, D)`, one normalised key per **row**; the official buffer is `(D, K)`, one
///   key per column (`torch.randn(dim, K)` normalised along dim 0). The queue is used as given,
///   not renormalised: ``MoCoOps/mocoEnqueue(keys:into:at:)`` keeps its rows unit-norm.
/// - `_dequeue_and_enqueue` asserts K % N == 0; ``MoCoOps/mocoEnqueue(keys:into:at:)`` takes any
///   N ≤ K and wraps around the end of the queue.
/// - `_momentum_update_key_encoder` is ``Backend/mocoMomentumUpdate(online:target:momentum:)``.
///
/// ```swift
/// let r = try backend.moco(q: q, k: k, queue: queue, temperature: MoCoReference.defaultTemperature)
/// pointer = try backend.mocoEnqueue(keys: k, into: queue, at: pointer)
/// try backend.mocoMomentumUpdate(online: queryParameters, target: keyParameters)
/// ```
public protocol MoCoOps {
    /// The InfoNCE loss of queries against their keys and the queue, and dL/dq.
    /// - Parameters:
    ///   - q: `(N, D)`, N ≥ 1, the query encoder's outputs (raw).
    ///   - k: `(N, D)`, the key encoder's outputs (raw; normalised here, no gradient).
    ///   - queue: `(K, D)`, K ≥ 1 normalised negative keys, one per row.
    ///   - temperature: T > 0.
    /// - Returns: the loss (shape `[]`) and dQ `(N, D)` w.r.t. the raw `q`.
    func moco(q: Tensor, k: Tensor, queue: Tensor, temperature: Float) throws -> MoCoResult

    /// Writes the L2-normalised `keys` into `queue` in place, at rows `pointer, pointer + 1, …`
    /// wrapping past row K − 1 to row 0 (dequeue the oldest, enqueue the newest).
    /// - Parameters:
    ///   - keys: `(N, D)` raw keys, 1 ≤ N ≤ K.
    ///   - queue: `(K, D)`; its storage is overwritten (shared by every copy of `queue`).
    ///   - pointer: the oldest row, 0 ≤ pointer < K.
    /// - Returns: the new pointer, (pointer + N) mod K.
    func mocoEnqueue(keys: Tensor, into queue: Tensor, at pointer: Int) throws -> Int
}

/// What ``MoCoOps/moco(q:k:queue:temperature:)`` returns.
public struct MoCoResult {
    /// The mean loss, a scalar (shape `[]`).
    public let loss: Tensor
    /// dL/dq, `(N, D)`.
    public let dQ: Tensor
}

extension Backend {
    /// MoCo's key-encoder update, `param_k = m · param_k + (1 − m) · param_q`, in place on each
    /// `target` tensor (builder.py `_momentum_update_key_encoder`), through ``Backend/axpby(_:alpha:beta:into:)``.
    /// - Parameters:
    ///   - online: the query encoder's parameters.
    ///   - target: the key encoder's parameters, in the same order and shapes; overwritten.
    ///   - momentum: m ∈ [0, 1]; MoCo's default 0.999.
    public func mocoMomentumUpdate(online: [Tensor], target: [Tensor],
                                   momentum: Float = MoCoReference.defaultMomentum) throws {
        try MoCoReference.validateMomentumUpdate(online: online.map(\.shape), target: target.map(\.shape),
                                                 momentum: momentum)
        for (q, k) in zip(online, target) { try axpby(q, alpha: 1 - momentum, beta: momentum, into: k) }
    }
}

/// MoCo in Double on row-major `[Double]`: the reference backend's implementation and the
/// finite-difference ground truth.
public enum MoCoReference {
    /// MoCo v2's temperature.
    public static let defaultTemperature: Float = 0.2
    /// MoCo's key-encoder momentum.
    public static let defaultMomentum: Float = 0.999

    /// What ``backward(_:)`` rereads.
    public struct Cache {
        /// The sizes (N, D, K) and T of the forward call.
        public let n: Int, d: Int, queueSize: Int, temperature: Double
        /// The raw queries, `(N, D)`, for the normalisation's backward.
        public let q: [Double]
        /// normalize(k), `(N, D)`.
        public let kHat: [Double]
        /// `(K, D)`.
        public let queue: [Double]
        /// softmax(logits), `(N, 1 + K)`; column 0 is the positive.
        public let probabilities: [Double]
    }

    /// The shape rules of both backends: returns (N, D, K).
    static func validate(q: [Int], k: [Int], queue: [Int], temperature: Float) throws -> (n: Int, d: Int, k: Int) {
        let (n, d) = try Shapes.matrix(q, op: "moco", name: "q")
        _ = try Shapes.matrix(k, op: "moco", name: "k")
        try Shapes.same(q, k, op: "moco", names: ("q", "k"))
        let (kCount, _) = try Shapes.matrix(queue, op: "moco", name: "queue")
        try ContrastiveRules.sameFeatures(q, queue, op: "moco", names: ("q", "queue"))
        try ContrastiveRules.temperature(temperature, op: "moco")
        return (n, d, kCount)
    }

    /// The rules of ``MoCoOps/mocoEnqueue(keys:into:at:)``: returns (N, D, K).
    static func validateEnqueue(keys: [Int], queue: [Int], pointer: Int) throws -> (n: Int, d: Int, k: Int) {
        let op = "mocoEnqueue"
        let (n, d) = try Shapes.matrix(keys, op: op, name: "keys")
        let (kCount, _) = try Shapes.matrix(queue, op: op, name: "queue")
        try ContrastiveRules.sameFeatures(keys, queue, op: op, names: ("keys", "queue"))
        guard n <= kCount else {
            throw SSLError.shapeMismatch(op: op, detail: "keys \(shapeText(keys)) has more rows than the queue \(shapeText(queue))")
        }
        guard pointer >= 0, pointer < kCount else {
            throw SSLError.invalidArgument(op: op, detail: "pointer \(pointer) is out of range for a queue of \(kCount) rows")
        }
        return (n, d, kCount)
    }

    static func validateMomentumUpdate(online: [[Int]], target: [[Int]], momentum: Float) throws {
        let op = "mocoMomentumUpdate"
        guard online.count == target.count else {
            throw SSLError.invalidArgument(op: op, detail: "\(online.count) online tensors but \(target.count) target tensors")
        }
        for (i, (a, b)) in zip(online, target).enumerated() {
            try Shapes.same(a, b, op: op, names: ("online[\(i)]", "target[\(i)]"))
        }
        try ContrastiveRules.momentum(momentum, op: op)
    }

    /// - Parameters: q, k: `(N, D)`; queue: `(K, D)`, all row-major.
    public static func forward(q: [Double], k: [Double], queue: [Double], n: Int, d: Int, queueSize: Int,
                               temperature: Double) -> (loss: Double, cache: Cache) {
        let eps = Double(ContrastiveRules.normalizeEps)
        let qHat = L2Normalize.forward(q, rows: n, cols: d, eps: eps)
        let kHat = L2Normalize.forward(k, rows: n, cols: d, eps: eps)
        let cols = 1 + queueSize
        var probabilities = [Double](repeating: 0, count: n * cols)
        var loss = 0.0
        for i in 0..<n {
            let logits = [rowDot(qHat, i, kHat, i, d) / temperature]
                + (0..<queueSize).map { rowDot(qHat, i, queue, $0, d) / temperature }
            let lse = logSumExp(logits)
            loss += lse - logits[0]
            for c in 0..<cols { probabilities[i * cols + c] = exp(logits[c] - lse) }
        }
        return (loss / Double(n), Cache(n: n, d: d, queueSize: queueSize, temperature: temperature, q: q,
                                        kHat: kHat, queue: queue, probabilities: probabilities))
    }

    /// - Returns: dQ `(N, D)`.
    public static func backward(_ cache: Cache) -> [Double] {
        let n = cache.n, d = cache.d, cols = 1 + cache.queueSize
        var dQHat = [Double](repeating: 0, count: n * d)
        for i in 0..<n {
            // dL/dl_c = (p_c − [c = 0]) / (N·T): the positive pulls q̂ towards k̂, the queue pushes away.
            let dPos = (cache.probabilities[i * cols] - 1) / (Double(n) * cache.temperature)
            for c in 0..<d { dQHat[i * d + c] = dPos * cache.kHat[i * d + c] }
            for j in 0..<cache.queueSize {
                let dNeg = cache.probabilities[i * cols + 1 + j] / (Double(n) * cache.temperature)
                for c in 0..<d { dQHat[i * d + c] += dNeg * cache.queue[j * d + c] }
            }
        }
        return L2Normalize.backward(x: cache.q, dY: dQHat, rows: n, cols: d, eps: Double(ContrastiveRules.normalizeEps))
    }

    /// Writes normalize(keys) into rows pointer, pointer + 1, … (mod K) of `queue`.
    /// - Returns: the new pointer.
    public static func enqueue(keys: [Double], into queue: inout [Double], n: Int, d: Int, queueSize: Int,
                               at pointer: Int) -> Int {
        let kHat = L2Normalize.forward(keys, rows: n, cols: d, eps: Double(ContrastiveRules.normalizeEps))
        for i in 0..<n {
            let row = (pointer + i) % queueSize
            for c in 0..<d { queue[row * d + c] = kHat[i * d + c] }
        }
        return (pointer + n) % queueSize
    }
}
