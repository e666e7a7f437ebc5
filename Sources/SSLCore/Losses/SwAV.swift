// SwAV: swapped prediction of Sinkhorn-Knopp codes between crops (Caron et al. 2020).
import Foundation

/// SwAV, "Unsupervised Learning of Visual Features by Contrasting Cluster Assignments"
/// (Caron et al., NeurIPS 2020), following facebookresearch/swav `main_swav.py` (`train` and
/// `distributed_sinkhorn`, world size 1).
///
/// For crops z_v `(N, D)`, v = 0…V−1 (V ≥ 2; crops 0 and 1 are the global crops) and prototypes
/// P `(K, D)`:
///
///     s_v = z_v · Pᵀ                                                         (N, K)
///     q_i = Sinkhorn(stopgrad(s_i); ε, iterations)       for the code crops i ∈ {0, 1}
///     L   = (1/2) Σ_{i∈{0,1}} 1/(V−1) Σ_{v≠i} −mean_n Σ_k q_i,nk · log_softmax(s_v,n / T)_k
///
/// With two crops this is `L = −½ (mean_n Σ_k q1·log_softmax(s2/T) + mean_n Σ_k q2·log_softmax(s1/T))`.
/// Every other crop, global or extra, predicts each code, and each code's sum is divided by
/// V − 1 and the total by the number of code crops, exactly as the official loop
/// (`crops_for_assign = [0, 1]`, `loss += subloss / (sum(nmb_crops) − 1)`, `loss /= 2`).
///
/// Codes are constants (the official code computes them under `torch.no_grad()`), so the
/// gradients come from the cross-entropy terms alone:
///
///     dS_v = Σ_{i≠v} w · (softmax(s_v/T) − q_i) / (T·N),   w = 1 / (2(V−1))
///     dP   = Σ_v dS_vᵀ · z_v        dZ_v = dS_v · P
///
/// Defaults are the paper's ImageNet ones: ε = 0.05, 3 Sinkhorn iterations, T = 0.1.
///
/// **Queue.** For small batches the official code keeps, per code crop, a queue of past
/// embeddings `(Q, D)`; once the queue is full it runs Sinkhorn on `[queue·Pᵀ; s_i]` and keeps
/// the last N rows of the codes (`distributed_sinkhorn(out)[-bs:]`). Pass `queues` (one per code
/// crop) to do the same; push the current embeddings afterwards with
/// ``SwAVOps/swavQueuePush(_:into:)``, as the official loop fills the queue after reading it.
///
/// **Left to the trainer** (as in the official code, outside the loss): L2-normalising the
/// prototypes before the forward pass (`w = normalize(w)`) and the model's normalisation of z;
/// the inputs are used as given here. Deciding when the queue is full enough to use (the official
/// `use_the_queue` waits for its last row to be filled) and freezing the prototypes' gradient for
/// the first iterations (`freeze_prototypes_niters`) are the trainer's too.
public protocol SwAVOps {
    /// SwAV's swapped-prediction loss and its gradients.
    ///
    /// - Parameters:
    ///   - crops: V ≥ 2 embeddings `(N, D)`; crops 0 and 1 are the global crops that give codes.
    ///   - prototypes: `(K, D)`.
    ///   - epsilon: Sinkhorn's entropic regularisation ε > 0.
    ///   - iterations: Sinkhorn iterations ≥ 1.
    ///   - temperature: T > 0 of the prediction softmax.
    ///   - queues: nil, or two queues `(Q, D)` of past embeddings, one per code crop.
    func swav(crops: [Tensor], prototypes: Tensor, epsilon: Float, iterations: Int, temperature: Float,
              queues: [Tensor]?) throws -> SwAVResult

    /// The official FIFO queue update, in place: rows move down by N and the newest embeddings
    /// `(N, D)` take the first N rows of `queue` `(Q, D)`, Q ≥ N (`queue[bs:] = queue[:-bs]; queue[:bs] = z`).
    func swavQueuePush(_ embeddings: Tensor, into queue: Tensor) throws
}

extension SwAVOps {
    /// ``swav(crops:prototypes:epsilon:iterations:temperature:queues:)`` with the paper's defaults.
    public func swav(crops: [Tensor], prototypes: Tensor, queues: [Tensor]? = nil) throws -> SwAVResult {
        try swav(crops: crops, prototypes: prototypes, epsilon: SwAVReference.defaultEpsilon,
                 iterations: SwAVReference.defaultIterations, temperature: SwAVReference.defaultTemperature,
                 queues: queues)
    }
}

/// What ``SwAVOps/swav(crops:prototypes:epsilon:iterations:temperature:queues:)`` returns.
public struct SwAVResult {
    /// The loss, a scalar (shape `[]`).
    public let loss: Tensor
    /// The codes of the two code crops, `(N, K)` each; rows sum to 1.
    public let codes: [Tensor]
    /// The scores `z_v · Pᵀ` of every crop, `(N, K)`.
    public let scores: [Tensor]
    /// dL/ds_v for every crop, `(N, K)`.
    public let dScores: [Tensor]
    /// dL/dP, `(K, D)`.
    public let dPrototypes: Tensor
    /// dL/dz_v for every crop, `(N, D)`.
    public let dZ: [Tensor]
}

/// SwAV in Double on row-major `[Double]`: the reference backend's implementation and the
/// finite-difference ground truth; also the one place where inputs are validated.
public enum SwAVReference {
    public static let defaultEpsilon: Float = 0.05
    public static let defaultIterations = 3
    public static let defaultTemperature: Float = 0.1
    /// The crops whose codes are predicted (`crops_for_assign`).
    public static let codeCrops = [0, 1]

    struct Sizes { let n: Int, d: Int, k: Int, queueRows: Int }

    static func validate(crops: [[Int]], prototypes: [Int], queues: [[Int]]?, epsilon: Float, iterations: Int,
                         temperature: Float) throws -> Sizes {
        let op = "swav"
        guard crops.count >= 2 else {
            throw SSLError.invalidArgument(op: op, detail: "needs at least 2 crops (the two global crops), got \(crops.count)")
        }
        let (n, d) = try Shapes.matrix(crops[0], op: op, name: "crops[0]")
        for (v, shape) in crops.enumerated().dropFirst() {
            _ = try Shapes.matrix(shape, op: op, name: "crops[\(v)]")
            try Shapes.same(shape, crops[0], op: op, names: ("crops[\(v)]", "crops[0]"))
        }
        let (k, dp) = try Shapes.matrix(prototypes, op: op, name: "prototypes")
        guard dp == d else {
            throw SSLError.shapeMismatch(op: op, detail: "prototypes \(shapeText(prototypes)) have \(dp) features but crops[0] \(shapeText(crops[0])) has \(d)")
        }
        var queueRows = 0
        if let queues {
            guard queues.count == codeCrops.count else {
                throw SSLError.invalidArgument(op: op, detail: "needs one queue per code crop (\(codeCrops.count)), got \(queues.count)")
            }
            for (i, shape) in queues.enumerated() {
                let (q, dq) = try Shapes.matrix(shape, op: op, name: "queues[\(i)]")
                guard dq == d else {
                    throw SSLError.shapeMismatch(op: op, detail: "queues[\(i)] \(shapeText(shape)) has \(dq) features but crops[0] \(shapeText(crops[0])) has \(d)")
                }
                try Shapes.same(shape, queues[0], op: op, names: ("queues[\(i)]", "queues[0]"))
                queueRows = q
            }
        }
        _ = try Shapes.sinkhorn([n + queueRows, k], epsilon: epsilon, iterations: iterations)
        guard temperature > 0, temperature.isFinite else {
            throw SSLError.invalidArgument(op: op, detail: "temperature must be a positive finite number, got \(temperature)")
        }
        return Sizes(n: n, d: d, k: k, queueRows: queueRows)
    }

    static func validatePush(embeddings: [Int], queue: [Int]) throws -> (n: Int, q: Int, d: Int) {
        let op = "swavQueuePush"
        let (n, d) = try Shapes.matrix(embeddings, op: op, name: "embeddings")
        let (q, dq) = try Shapes.matrix(queue, op: op, name: "queue")
        guard dq == d, q >= n else {
            throw SSLError.shapeMismatch(op: op, detail: "queue \(shapeText(queue)) must have \(d) columns and at least as many rows as embeddings \(shapeText(embeddings))")
        }
        return (n, q, d)
    }

    /// `s = z · Pᵀ`: z `(rows, d)`, P `(k, d)` → `(rows, k)`.
    public static func scores(_ z: [Double], _ p: [Double], rows: Int, d: Int, k: Int) -> [Double] {
        var s = [Double](repeating: 0, count: rows * k)
        for r in 0..<rows {
            for j in 0..<k { s[r * k + j] = (0..<d).reduce(0.0) { $0 + z[r * d + $1] * p[j * d + $1] } }
        }
        return s
    }

    /// The codes of one code crop: Sinkhorn of `[queueScores; scores]` (`(Q + N, K)`), last N rows.
    public static func codes(scores: [Double], queueScores: [Double]?, n: Int, k: Int, epsilon: Double,
                             iterations: Int) -> [Double] {
        let input = (queueScores ?? []) + scores
        let q = SinkhornReference.codes(input, rows: input.count / k, cols: k, epsilon: epsilon, iterations: iterations)
        return Array(q[(q.count - n * k)...])
    }

    /// The swapped-prediction loss for fixed codes, and dL/ds_v of every crop (the CE terms).
    public static func swappedPrediction(scores: [[Double]], codes: [[Double]], n: Int, k: Int,
                                         temperature: Double) -> (loss: Double, dScores: [[Double]]) {
        let weight = 1 / Double(codeCrops.count * (scores.count - 1))
        var loss = 0.0
        var dScores = scores.map { [Double](repeating: 0, count: $0.count) }
        for (i, c) in codeCrops.enumerated() {
            for v in scores.indices where v != c {
                // −mean_n Σ_k q_i · log_softmax(s_v/T) and its gradient (1/T)(softmax·Σq − q)/N.
                let ce = SoftCrossEntropy.evaluate(logits: scores[v], targets: codes[i], rows: n, cols: k,
                                                   scale: 1 / temperature)
                loss += weight * ce.loss
                for j in 0..<ce.dLogits.count { dScores[v][j] += weight * ce.dLogits[j] }
            }
        }
        return (loss, dScores)
    }

    /// The forward pass; it keeps the scores, codes and dS that the backward pass rereads.
    public struct Forward {
        public let scores: [[Double]]
        public let codes: [[Double]]
        public let loss: Double
        public let dScores: [[Double]]
    }

    public static func forward(crops: [[Double]], prototypes: [Double], queues: [[Double]]?, n: Int, d: Int, k: Int,
                               epsilon: Double, iterations: Int, temperature: Double) -> Forward {
        let s = crops.map { scores($0, prototypes, rows: n, d: d, k: k) }
        let q = codeCrops.enumerated().map { i, c in
            codes(scores: s[c], queueScores: queues.map { scores($0[i], prototypes, rows: $0[i].count / d, d: d, k: k) },
                  n: n, k: k, epsilon: epsilon, iterations: iterations)
        }
        let prediction = swappedPrediction(scores: s, codes: q, n: n, k: k, temperature: temperature)
        return Forward(scores: s, codes: q, loss: prediction.loss, dScores: prediction.dScores)
    }

    /// dP = Σ_v dS_vᵀ z_v `(K, D)`; dZ_v = dS_v P `(N, D)`.
    public static func backward(dScores: [[Double]], crops: [[Double]], prototypes: [Double], n: Int, d: Int,
                                k: Int) -> (dPrototypes: [Double], dZ: [[Double]]) {
        var dP = [Double](repeating: 0, count: k * d)
        var dZ: [[Double]] = []
        for (dS, z) in zip(dScores, crops) {
            var dz = [Double](repeating: 0, count: n * d)
            for r in 0..<n {
                for j in 0..<k where dS[r * k + j] != 0 {
                    for f in 0..<d {
                        dP[j * d + f] += dS[r * k + j] * z[r * d + f]          // term dS_vᵀ z_v
                        dz[r * d + f] += dS[r * k + j] * prototypes[j * d + f]  // term dS_v P
                    }
                }
            }
            dZ.append(dz)
        }
        return (dP, dZ)
    }

    /// The FIFO push of ``SwAVOps/swavQueuePush(_:into:)``: `queue` `(Q, D)` ← `[embeddings; queue[..<Q−N]]`.
    public static func queuePush<Element>(_ embeddings: [Element], into queue: [Element]) -> [Element] {
        Array((embeddings + queue).prefix(queue.count))
    }
}
