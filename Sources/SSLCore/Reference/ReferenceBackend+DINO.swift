// Reference DINO: Float ↔ Double around DINOReference (Sources/SSLCore/Losses/DINO.swift).

extension ReferenceBackend {
    public func dino(student: [Tensor], teacher: [Tensor], center: Tensor, studentTemperature: Float,
                     teacherTemperature: Float, centerMomentum: Float) throws -> DINOResult {
        let op = "dino"
        let sizes = try DINOReference.validate(
            student: student.map(\.shape), teacher: teacher.map(\.shape), center: center.shape,
            studentTemperature: studentTemperature, teacherTemperature: teacherTemperature,
            centerMomentum: centerMomentum)
        let widen = { (x: Tensor) in try self.values(x, op: op).map(Double.init) }
        let (loss, centerNext, cache) = DINOReference.forward(
            student: try student.map(widen), teacher: try teacher.map(widen),
            center: try widen(center), sizes: sizes, studentTemperature: Double(studentTemperature),
            teacherTemperature: Double(teacherTemperature), centerMomentum: Double(centerMomentum))
        let dStudent = DINOReference.backward(cache).map { make($0.map(Float.init), [sizes.n, sizes.k]) }
        return DINOResult(loss: make([Float(loss)], []), dStudent: dStudent,
                          centerNext: make(centerNext.map(Float.init), center.shape))
    }
}
