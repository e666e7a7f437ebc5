// DINO: cross-entropy of the student's tempered log-softmax against the centred, sharpened
// teacher softmax over every pair of different crops; the centre's EMA; the teacher-temperature
// warm-up.
import Foundation

/// DINO's loss (Caron et al. 2021, "Emerging Properties in Self-Supervised Vision Transformers",
/// eq. 3 and Algorithm 1). For V student crops `s_v` and T ≥ 2 teacher crops `t_t` (the teacher
/// sees the first T crops, the global ones), all `(N, K)`:
///
///     q_t = softmax((t_t − c) / τ_t)                      (teacher: centred, sharpened, stop-gradient)
///     L   = (1/P) Σ_{t<T} Σ_{v≠t} (1/N) Σ_n −⟨q_t,n, log_softmax(s_v,n / τ_s)⟩,   P = T·(V − 1)
///     c'  = m·c + (1 − m) · (1/(T·N)) Σ_t Σ_n t_t,n       (the centre after this step)
///
/// and `dL/ds_v = (1/P) Σ_{t≠v} (softmax(s_v / τ_s) − q_t) / (N·τ_s)`. Defaults τ_s = 0.1,
/// τ_t = 0.04, m = 0.9.
///
/// Follows facebookresearch/dino, `main_dino.py`, `class DINOLoss` (`forward`, `update_center`):
/// the student output is chunked into `ncrops` crops and the teacher output into 2, pairs with
/// `v == iq` are skipped and the per-pair means are averaged over `n_loss_terms`; the centre is the
/// mean over all teacher rows (one process: `dist.all_reduce` over a world of size 1).
///
/// Differences from the official code: the teacher may have T ≥ 2 crops (the official chunking
/// fixes T = 2; T = 2 gives exactly its loss); the crops come as separate tensors rather than
/// concatenated; the teacher temperature is an argument (the official code reads it from its
/// schedule, ``DINOSchedule/teacherTemperature(epoch:warmupTemperature:teacherTemperature:warmupEpochs:)``).
public protocol DINOOps {
    /// DINO's loss, the gradient of every student crop, and the next centre.
    ///
    /// ```swift
    /// let r = try backend.dino(student: [s0, s1, s2, s3], teacher: [t0, t1], center: c,
    ///                          studentTemperature: 0.1, teacherTemperature: 0.04, centerMomentum: 0.9)
    /// c = r.centerNext
    /// ```
    /// - Parameters:
    ///   - student: V student crops, each `(N, K)`; crop i < T sees the same view as `teacher[i]`.
    ///   - teacher: 2 ≤ T ≤ V teacher crops, each `(N, K)`, under stop-gradient.
    ///   - center: `(K)` or `(1, K)`.
    ///   - studentTemperature: τ_s > 0.
    ///   - teacherTemperature: τ_t > 0.
    ///   - centerMomentum: m in [0, 1].
    /// - Returns: the loss (shape `[]`), `dStudent` (V tensors `(N, K)`), `centerNext` (the shape of `center`).
    func dino(student: [Tensor], teacher: [Tensor], center: Tensor, studentTemperature: Float,
              teacherTemperature: Float, centerMomentum: Float) throws -> DINOResult
}

/// What ``DINOOps/dino(student:teacher:center:studentTemperature:teacherTemperature:centerMomentum:)`` returns.
public struct DINOResult {
    /// The mean over pairs of the per-pair mean cross-entropy, a scalar (shape `[]`).
    public let loss: Tensor
    /// dL/ds_v for every student crop, each `(N, K)`.
    public let dStudent: [Tensor]
    /// The centre after this step's EMA update, with the shape of the input centre.
    public let centerNext: Tensor

    public init(loss: Tensor, dStudent: [Tensor], centerNext: Tensor) {
        self.loss = loss
        self.dStudent = dStudent
        self.centerNext = centerNext
    }
}

/// DINO's teacher-temperature schedule.
public enum DINOSchedule {
    /// The teacher temperature at `epoch`, as `DINOLoss.teacher_temp_schedule` in `main_dino.py`:
    /// `np.linspace(warmupTemperature, teacherTemperature, warmupEpochs)` for the first
    /// `warmupEpochs` epochs (both ends included, so the final value is reached at epoch
    /// `warmupEpochs − 1`), then `teacherTemperature`. The official defaults are 0.04, 0.04 and
    /// 0 epochs (no warm-up); the paper's ViT runs warm up from 0.04 to 0.07 over 30 epochs.
    public static func teacherTemperature(epoch: Int, warmupTemperature: Double = 0.04,
                                          teacherTemperature: Double = 0.04, warmupEpochs: Int = 0) throws -> Double {
        let op = "teacherTemperature"
        guard epoch >= 0 else { throw SSLError.invalidArgument(op: op, detail: "epoch must be non-negative, got \(epoch)") }
        guard warmupEpochs >= 0 else {
            throw SSLError.invalidArgument(op: op, detail: "warmupEpochs must be non-negative, got \(warmupEpochs)")
        }
        for (name, value) in [("warmupTemperature", warmupTemperature), ("teacherTemperature", teacherTemperature)] {
            guard value > 0, value.isFinite else {
                throw SSLError.invalidArgument(op: op, detail: "\(name) must be a positive finite number, got \(value)")
            }
        }
        guard epoch < warmupEpochs else { return teacherTemperature }
        guard warmupEpochs > 1 else { return warmupTemperature }  // np.linspace(a, b, 1) == [a]
        return warmupTemperature + (teacherTemperature - warmupTemperature) * Double(epoch) / Double(warmupEpochs - 1)
    }
}

/// The Double reference of DINO's loss: the ground truth of the parity and gradient tests.
public enum DINOReference {
    /// The sizes of a valid call.
    public struct Sizes: Equatable {
        /// V student crops, T teacher crops, N rows, K outputs.
        public let v: Int, t: Int, n: Int, k: Int
        /// P = T·(V − 1), the number of (teacher crop, other student crop) pairs.
        public var pairs: Int { t * (v - 1) }
    }

    /// Checks shared by both backends: crop counts, crop and centre shapes, temperatures, momentum.
    public static func validate(student: [[Int]], teacher: [[Int]], center: [Int], studentTemperature: Float,
                                teacherTemperature: Float, centerMomentum: Float) throws -> Sizes {
        let op = "dino"
        guard teacher.count >= 2 else {
            throw SSLError.invalidArgument(op: op, detail: "DINO needs at least 2 teacher crops, got \(teacher.count)")
        }
        guard student.count >= teacher.count else {
            throw SSLError.invalidArgument(
                op: op, detail: "the teacher crops are the first student crops: \(teacher.count) teacher crops "
                    + "but only \(student.count) student crops")
        }
        let (n, k) = try Shapes.matrix(student[0], op: op, name: "student[0]")
        for (role, crops) in [("student", student), ("teacher", teacher)] {
            for (i, shape) in crops.enumerated() {
                _ = try Shapes.matrix(shape, op: op, name: "\(role)[\(i)]")
                try Shapes.same(student[0], shape, op: op, names: ("student[0]", "\(role)[\(i)]"))
            }
        }
        guard center == [k] || center == [1, k] else {
            throw SSLError.shapeMismatch(
                op: op, detail: "center is \(shapeText(center)) but must be (\(k),) or (1, \(k)) for crops \(shapeText([n, k]))")
        }
        for (name, value) in [("studentTemperature", studentTemperature), ("teacherTemperature", teacherTemperature)] {
            guard value > 0, value.isFinite else {
                throw SSLError.invalidArgument(op: op, detail: "\(name) must be a positive finite number, got \(value)")
            }
        }
        guard centerMomentum >= 0, centerMomentum <= 1 else {
            throw SSLError.invalidArgument(op: op, detail: "centerMomentum must lie in [0, 1], got \(centerMomentum)")
        }
        return Sizes(v: student.count, t: teacher.count, n: n, k: k)
    }

    /// What the backward pass rereads.
    public struct Cache {
        public let sizes: Sizes
        public let studentTemperature: Double
        /// q_t, the teacher probabilities, T × `(N, K)`.
        public let q: [[Double]]
        /// softmax(s_v / τ_s), V × `(N, K)`.
        public let studentSoftmax: [[Double]]
    }

    /// The loss, the next centre (K values) and the cache; `center` has K values.
    public static func forward(student: [[Double]], teacher: [[Double]], center: [Double], sizes: Sizes,
                               studentTemperature: Double, teacherTemperature: Double,
                               centerMomentum: Double) -> (loss: Double, centerNext: [Double], cache: Cache) {
        let (n, k) = (sizes.n, sizes.k)
        // Teacher: q_t = softmax((t − c) / τ_t), row by row.
        let q = teacher.map { crop in
            rowMap(crop, n: n, k: k) { j, x in (x - center[j]) / teacherTemperature }.softmaxRows(n: n, k: k)
        }
        // Student: log_softmax(s_v / τ_s).
        let logSoftmax = student.map { crop in rowMap(crop, n: n, k: k) { _, x in x / studentTemperature }.logSoftmaxRows(n: n, k: k) }
        // Cross-entropy of every (teacher crop t, student crop v ≠ t) pair, each a mean over rows.
        var total = 0.0
        for t in 0..<sizes.t {
            for v in 0..<sizes.v where v != t {
                var pair = 0.0
                for i in 0..<(n * k) where q[t][i] != 0 { pair -= q[t][i] * logSoftmax[v][i] }
                total += pair / Double(n)
            }
        }
        // Centre: m·c + (1 − m)·(mean over all T·N teacher rows).
        var centerNext = center.map { centerMomentum * $0 }
        let weight = (1 - centerMomentum) / Double(sizes.t * n)
        for crop in teacher {
            for i in 0..<(n * k) { centerNext[i % k] += weight * crop[i] }
        }
        let cache = Cache(sizes: sizes, studentTemperature: studentTemperature, q: q,
                          studentSoftmax: logSoftmax.map { $0.map(exp) })
        return (total / Double(sizes.pairs), centerNext, cache)
    }

    /// dL/ds_v for every student crop, for an upstream gradient `dLoss` of the scalar loss.
    public static func backward(_ cache: Cache, dLoss: Double = 1) -> [[Double]] {
        let s = cache.sizes
        let scale = dLoss / (Double(s.pairs) * Double(s.n) * cache.studentTemperature)
        return (0..<s.v).map { v in
            // Each pair (t, v) adds (softmax(s_v/τ_s)·Σ_k q_t − q_t) / (P·N·τ_s); Σ_k q_t = 1 per row.
            let teachers = (0..<s.t).filter { $0 != v }
            var d = cache.studentSoftmax[v].map { Double(teachers.count) * $0 }  // the softmax terms
            for t in teachers {
                for i in 0..<d.count { d[i] -= cache.q[t][i] }                   // the target terms
            }
            return d.map { scale * $0 }
        }
    }

    private static func rowMap(_ x: [Double], n: Int, k: Int, _ f: (Int, Double) -> Double) -> [Double] {
        (0..<(n * k)).map { f($0 % k, x[$0]) }
    }
}

private extension Array where Element == Double {
    func logSoftmaxRows(n: Int, k: Int) -> [Double] {
        var y = self
        for r in 0..<n {
            let lse = logSumExp(Array(self[(r * k)..<((r + 1) * k)]))
            for j in 0..<k { y[r * k + j] -= lse }
        }
        return y
    }

    func softmaxRows(n: Int, k: Int) -> [Double] { logSoftmaxRows(n: n, k: k).map(exp) }
}
