// DINO: the Double reference against finite differences, both backends against the official
// DINOLoss (facebookresearch/dino main_dino.py, float64 fixtures), OpenCL against the reference,
// the teacher-temperature schedule, bad inputs, and `ssl loss dino`.
import Foundation
import Testing
@testable import SSLCore

@Suite struct DINOTests {
    /// (V student crops, T teacher crops, N, K).
    static let gradientCases: [(Int, Int, Int, Int)] = [(4, 2, 3, 5), (3, 3, 2, 4)]

    @Test("the reference gradient of every student crop matches finite differences", arguments: gradientCases)
    func gradient(_ c: (Int, Int, Int, Int)) throws {
        let (v, t, n, k) = c
        var rng = SeededRandom(seed: UInt64(v * 1000 + t * 100 + n * 10 + k))
        let student = (0..<v).map { _ in rng.doubles(n * k) }, teacher = (0..<t).map { _ in rng.doubles(n * k) }
        let center = rng.doubles(k, scale: 0.3)
        let sizes = try DINOReference.validate(student: student.map { _ in [n, k] }, teacher: teacher.map { _ in [n, k] },
                                               center: [k], studentTemperature: 0.1, teacherTemperature: 0.04,
                                               centerMomentum: 0.9)
        let loss = { (student: [[Double]]) in
            DINOReference.forward(student: student, teacher: teacher, center: center, sizes: sizes,
                                  studentTemperature: 0.1, teacherTemperature: 0.04, centerMomentum: 0.9)
        }
        let dStudent = DINOReference.backward(loss(student).cache)
        for crop in 0..<v {
            checkGradient("dino dStudent[\(crop)] \(c)", at: student[crop], analytic: dStudent[crop]) { x in
                var s = student
                s[crop] = x
                return loss(s).loss
            }
        }
    }

    @Test("matches the official DINOLoss (float64 fixtures) on every backend", arguments: ["a", "b"])
    func official(_ tag: String) throws {
        let params = try DistillationFixtures.expected("dino_\(tag)_params").values.map(Float.init)
        let crops = cropCount(tag)
        try forEachBackend { backend in
            let input = { (name: String) in try DistillationFixtures.tensor("dino_\(tag)_\(name)", on: backend) }
            let r = try backend.dino(student: try (0..<crops).map { try input("student\($0)") },
                                     teacher: try (0..<2).map { try input("teacher\($0)") }, center: try input("center"),
                                     studentTemperature: params[0], teacherTemperature: params[1], centerMomentum: params[2])
            #expect(r.loss.shape == [] && r.dStudent.count == crops)
            try DistillationFixtures.expectMatches(r.loss, on: backend, "dino_\(tag)_loss")
            for (v, d) in r.dStudent.enumerated() {
                try DistillationFixtures.expectMatches(d, on: backend, "dino_\(tag)_grad_student\(v)")
            }
            try DistillationFixtures.expectMatches(r.centerNext, on: backend, "dino_\(tag)_center_next")
        }
    }

    /// The number of student crops of a fixture case (2 global + the case's local crops).
    private func cropCount(_ tag: String) -> Int {
        (0...).first { !FileManager.default.fileExists(atPath: Fixtures.path("losses/dino_\(tag)_student\($0)")) }!
    }

    /// (V, T, N, K). The logits reach |s|/τ_s = 30 and |t − c|/τ_t = 90; float32 softmax and
    /// log-sum-exp of such rows carry ~|x|·2⁻²⁴ ≈ 5e-6 absolute error, and the pair sums add ≤ 9
    /// terms: 1e-4 of the largest magnitude leaves margin.
    static let parityCases: [(Int, Int, Int, Int)] = [(4, 2, 2, 3), (4, 2, 7, 13), (4, 2, 33, 65), (3, 3, 5, 300)]

    @Test("OpenCL matches the reference", .enabled(if: TestBackends.hasOpenCL), arguments: Oclgrind.cases(parityCases) { $0.2 * $0.3 }, [false, true])
    func parity(_ c: (Int, Int, Int, Int), serialRows: Bool) throws {
        let (v, t, n, k) = c
        let cl = openCL(serialRows: serialRows), ref = TestBackends.reference
        var rng = SeededRandom(seed: UInt64(v * 1000 + t * 100 + n * 10 + k))
        let student = (0..<v).map { _ in rng.uniform(n * k, scale: 3) }, teacher = (0..<t).map { _ in rng.uniform(n * k, scale: 3) }
        let center = rng.uniform(k, scale: 0.6)
        let results = try ([ref, cl] as [any Backend]).map { backend in
            try backend.dino(student: try student.map { try backend.upload($0, shape: [n, k]) },
                             teacher: try teacher.map { try backend.upload($0, shape: [n, k]) },
                             center: try backend.upload(center, shape: [1, k]),
                             studentTemperature: 0.1, teacherTemperature: 0.04, centerMomentum: 0.9)
        }
        let (r, o) = (results[0], results[1])
        try DistillationFixtures.expectParity(o.loss, on: cl, r.loss, on: ref, rtol: 1e-4, "loss \(c)")
        for i in 0..<v {
            try DistillationFixtures.expectParity(o.dStudent[i], on: cl, r.dStudent[i], on: ref, rtol: 1e-4, "dStudent[\(i)] \(c)")
        }
        try DistillationFixtures.expectParity(o.centerNext, on: cl, r.centerNext, on: ref, rtol: 1e-4, "centerNext \(c)")
        #expect(o.centerNext.shape == [1, k])
    }

    @Test("the teacher-temperature warm-up is the official np.linspace schedule")
    func teacherTemperature() throws {
        let expected = try DistillationFixtures.expected("dino_teacher_temp_schedule").values  // 0.04 → 0.07, 30 of 100
        let schedule = try (0..<expected.count).map {
            try DINOSchedule.teacherTemperature(epoch: $0, warmupTemperature: 0.04, teacherTemperature: 0.07, warmupEpochs: 30)
        }
        #expect(zip(schedule, expected).allSatisfy { abs($0 - $1) <= 1e-15 }, "\(schedule.prefix(3)) vs \(expected.prefix(3))")
        #expect(schedule[29] == 0.07 && schedule[99] == 0.07)
        #expect(try DINOSchedule.teacherTemperature(epoch: 5) == 0.04)  // the official defaults: no warm-up
        #expect(try DINOSchedule.teacherTemperature(epoch: 0, warmupTemperature: 0.02, warmupEpochs: 1) == 0.02)
        #expect(throws: SSLError.self) { try DINOSchedule.teacherTemperature(epoch: -1) }
        #expect(throws: SSLError.self) { try DINOSchedule.teacherTemperature(epoch: 0, warmupEpochs: -2) }
        #expect(throws: SSLError.self) { try DINOSchedule.teacherTemperature(epoch: 0, teacherTemperature: 0) }
    }

    /// A call with crop shapes, a centre shape and (τ_s, τ_t, m), and the message it must raise.
    struct BadCall {
        var student: [[Int]] = Array(repeating: [2, 3], count: 4)
        var teacher: [[Int]] = Array(repeating: [2, 3], count: 2)
        var center = [3]
        var parameters: (Float, Float, Float) = (0.1, 0.04, 0.9)
        let message: String
    }

    static let badCalls: [BadCall] = [
        BadCall(teacher: [[2, 3]], message: "DINO needs at least 2 teacher crops, got 1"),
        BadCall(student: [[2, 3], [2, 3]], teacher: Array(repeating: [2, 3], count: 3),
                message: "3 teacher crops but only 2 student crops"),
        BadCall(student: [[2, 3], [2, 3], [2, 4], [2, 3]], message: "student[0] is (2, 3) but student[2] is (2, 4)"),
        BadCall(teacher: [[2, 3], [5, 3]], message: "student[0] is (2, 3) but teacher[1] is (5, 3)"),
        BadCall(student: [[6], [6]], message: "student[0] must be a matrix, got shape (6,)"),
        BadCall(center: [4], message: "center is (4,) but must be (3,) or (1, 3)"),
        BadCall(center: [2, 3], message: "center is (2, 3) but must be (3,) or (1, 3)"),
        BadCall(parameters: (0, 0.04, 0.9), message: "studentTemperature must be a positive finite number, got 0.0"),
        BadCall(parameters: (0.1, -0.04, 0.9), message: "teacherTemperature must be a positive finite number, got -0.04"),
        BadCall(parameters: (0.1, .nan, 0.9), message: "teacherTemperature must be a positive finite number, got nan"),
        BadCall(parameters: (0.1, 0.04, 1.5), message: "centerMomentum must lie in [0, 1], got 1.5"),
    ]

    @Test("bad crops, centres and parameters are errors naming them, identically on every backend",
          arguments: badCalls.indices)
    func errors(_ index: Int) throws {
        let call = Self.badCalls[index]
        let texts = try allBackends.map { backend in
            let student = try call.student.map { try backend.zeros($0) }, teacher = try call.teacher.map { try backend.zeros($0) }
            let center = try backend.zeros(call.center)
            return DistillationFixtures.errorText {
                try backend.dino(student: student, teacher: teacher, center: center, studentTemperature: call.parameters.0,
                                 teacherTemperature: call.parameters.1, centerMomentum: call.parameters.2)
            }
        }
        #expect(texts[0]?.contains(call.message) == true, "\(texts[0] ?? "no error")")
        #expect(Set(texts).count == 1, "\(texts)")
    }

    /// Case a has the paper's τ_s 0.1, τ_t 0.04, m 0.9 and a (1, K) centre, so it runs on the
    /// command's defaults; case b passes its own values and a (K) centre.
    @Test("ssl loss dino writes loss, every grad_student_i and center_next matching the official code",
          arguments: ["a", "b"])
    func cli(_ tag: String) throws {
        let input = { (name: String) in Fixtures.path("losses/dino_\(tag)_\(name)") }
        let crops = cropCount(tag)
        let params = try DistillationFixtures.expected("dino_\(tag)_params").values.map { String(Float($0)) }
        let options = tag == "a" ? [] : ["--student-temperature", params[0], "--teacher-temperature", params[1],
                                         "--center-momentum", params[2]]
        for device in DistillationFixtures.devices {
            let folder = try DistillationFixtures.runLoss(
                ["dino", "--student", (0..<crops).map { input("student\($0)") }.joined(separator: ","),
                 "--teacher", input("teacher0") + "," + input("teacher1"), "--center", input("center")] + options,
                device: device)
            defer { try? FileManager.default.removeItem(at: folder) }
            try DistillationFixtures.expectOutput(folder, "loss", matches: "dino_\(tag)_loss", device)
            for v in 0..<crops {
                try DistillationFixtures.expectOutput(folder, "grad_student_\(v)", matches: "dino_\(tag)_grad_student\(v)", device)
            }
            try DistillationFixtures.expectOutput(folder, "center_next", matches: "dino_\(tag)_center_next", device)
        }
    }
}
