// DINO on the device: the teacher targets by dino_teacher_probs (Kernels/distillation.cl), each
// (teacher crop, other student crop) pair by the shared softCrossEntropy (scale 1/τ_s), the pairs'
// losses and gradients summed with weight 1/P by axpby, and the centre's EMA by mean + axpby.

extension OpenCLBackend {
    public func dino(student: [Tensor], teacher: [Tensor], center: Tensor, studentTemperature: Float,
                     teacherTemperature: Float, centerMomentum: Float) throws -> DINOResult {
        let op = "dino"
        let sizes = try DINOReference.validate(
            student: student.map(\.shape), teacher: teacher.map(\.shape), center: center.shape,
            studentTemperature: studentTemperature, teacherTemperature: teacherTemperature,
            centerMomentum: centerMomentum)
        let (n, k) = (sizes.n, sizes.k)

        // q_t = softmax((t_t − c) / τ_t).
        let invTeacher = Float(1 / Double(teacherTemperature))
        let q = try teacher.map { crop in
            let probs = try empty([n, k])
            try launchRows("dino_teacher_probs", in: .distillation, rows: n, length: k, arguments: [
                try arg(crop, op), try arg(center, op), try arg(probs, op), try int32(k, op), .float(invTeacher),
            ])
            return probs
        }

        // L = (1/P) Σ_t Σ_{v≠t} CE(q_t, s_v / τ_s), and dL/ds_v = (1/P) Σ_{t≠v} dCE/ds_v.
        let weight = Float(1 / Double(sizes.pairs)), scale = Float(1 / Double(studentTemperature))
        let loss = try zeros([])
        let dStudent = try student.map { _ in try zeros([n, k]) }
        for t in 0..<sizes.t {
            for v in 0..<sizes.v where v != t {
                let pair = try softCrossEntropy(student[v], targets: q[t], scale: scale)
                try axpby(pair.loss, alpha: weight, beta: 1, into: loss)
                try axpby(pair.dLogits, alpha: weight, beta: 1, into: dStudent[v])
            }
        }

        // c' = m·c + (1 − m)·(1/T) Σ_t mean_n(t_t): the mean over all T·N rows, as all crops have N rows.
        let centerNext = try empty(center.shape)
        try axpby(center, alpha: centerMomentum, beta: 0, into: centerNext)
        let crossWeight = Float((1 - Double(centerMomentum)) / Double(sizes.t))
        for crop in teacher {
            try axpby(try mean(crop, axis: 0).reshaped(center.shape), alpha: crossWeight, beta: 1, into: centerNext)
        }
        return DINOResult(loss: loss, dStudent: dStudent, centerNext: centerNext)
    }
}
