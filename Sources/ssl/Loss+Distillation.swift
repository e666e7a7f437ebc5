// `ssl loss byol | simsiam | dino`: the distillation objectives on .npy inputs
// (Sources/SSLCore/Losses/BYOL.swift, SimSiam.swift, DINO.swift).
import ArgumentParser
import SSLCommandLine
import SSLCore

struct BYOLLossCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "byol",
        abstract: "BYOL: mean ‖p̂ − ẑ‖² = 2 − 2·cos(p, z), one direction, no gradient to the target z.",
        discussion: "Writes DIR/loss.npy and DIR/grad_p.npy.")

    @Option(help: "Online predictions p, (N, D).") var p: String
    @Option(help: "Target projections z, (N, D).") var z: String
    @Option(help: "Output folder.") var out: String
    @OptionGroup var device: DeviceOptions

    func run() throws {
        let backend = try device.backend()
        let result = try backend.byol(p: try readTensor(p, name: "p", rank: 2, on: backend),
                                      z: try readTensor(z, name: "z", rank: 2, on: backend))
        let folder = try OutputFolder(out, inputs: [p, z])
        try folder.write([("loss", .tensor(result.loss)), ("grad_p", .tensor(result.dP))], on: backend)
    }
}

struct SimSiamLossCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simsiam",
        abstract: "SimSiam: −½·mean cos(p1, z2) − ½·mean cos(p2, z1), no gradient to z1, z2.",
        discussion: "Writes DIR/loss.npy, DIR/grad_p1.npy and DIR/grad_p2.npy.")

    @Option(help: "Predictions of view 1, p1, (N, D).") var p1: String
    @Option(help: "Predictions of view 2, p2, (N, D).") var p2: String
    @Option(help: "Projections of view 1, z1, (N, D).") var z1: String
    @Option(help: "Projections of view 2, z2, (N, D).") var z2: String
    @Option(help: "Output folder.") var out: String
    @OptionGroup var device: DeviceOptions

    func run() throws {
        let backend = try device.backend()
        let read = { (path: String, name: String) in try readTensor(path, name: name, rank: 2, on: backend) }
        let result = try backend.simSiam(p1: try read(p1, "p1"), p2: try read(p2, "p2"),
                                         z1: try read(z1, "z1"), z2: try read(z2, "z2"))
        let folder = try OutputFolder(out, inputs: [p1, p2, z1, z2])
        try folder.write([("loss", .tensor(result.loss)), ("grad_p1", .tensor(result.dP1)), ("grad_p2", .tensor(result.dP2))],
                         on: backend)
    }
}

struct DINOLossCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dino",
        abstract: "DINO: cross-entropy of softmax((t − c)/τ_t) against log_softmax(s/τ_s) over every pair of different crops.",
        discussion: """
            The teacher crops are the first student crops (the global views): pairs of a teacher crop \
            with the student crop of the same index are skipped. Writes DIR/loss.npy, \
            DIR/grad_student_<i>.npy for every student crop, and DIR/center_next.npy (the centre after \
            its EMA update, in the shape of --center).
            """)

    @Option(help: "Student crops, comma-separated .npy files, each (N, K); at least as many as teacher crops.")
    var student: String
    @Option(help: "Teacher crops, comma-separated .npy files (at least 2), each (N, K).") var teacher: String
    @Option(help: "The teacher centre c, (K) or (1, K).") var center: String
    @Option(help: "Student temperature τ_s (DINO's default 0.1).") var studentTemperature: Float = 0.1
    @Option(help: "Teacher temperature τ_t (DINO's default 0.04, its value after the warm-up).")
    var teacherTemperature: Float = 0.04
    @Option(help: "Momentum m of the centre's EMA, c ← m·c + (1 − m)·mean of the teacher rows (DINO's default 0.9).")
    var centerMomentum: Float = 0.9
    @Option(help: "Output folder.") var out: String
    @OptionGroup var device: DeviceOptions

    /// The comma-separated paths of a list option.
    private static func paths(_ list: String) -> [String] {
        list.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
    }

    func validate() throws {
        for (name, list) in [("--student", student), ("--teacher", teacher)] where Self.paths(list).contains(where: \.isEmpty) {
            throw ValidationError("\(name) has an empty path in '\(list)'")
        }
    }

    func run() throws {
        let backend = try device.backend()
        let students = try Self.paths(student).enumerated().map {
            try readTensor($0.element, name: "student[\($0.offset)]", rank: 2, on: backend)
        }
        let teachers = try Self.paths(teacher).enumerated().map {
            try readTensor($0.element, name: "teacher[\($0.offset)]", rank: 2, on: backend)
        }
        // The centre is read at its own rank; DINOOps checks that it is (K) or (1, K), naming both shapes.
        let c = try readTensor(center, name: "center", rank: try NumPy.read(center).shape.count, on: backend)
        let result = try backend.dino(student: students, teacher: teachers, center: c,
                                      studentTemperature: studentTemperature, teacherTemperature: teacherTemperature,
                                      centerMomentum: centerMomentum)
        let folder = try OutputFolder(out, inputs: [student, teacher, center])
        try folder.write([("loss", .tensor(result.loss))]
                         + result.dStudent.enumerated().map { ("grad_student_\($0)", .tensor($1)) }
                         + [("center_next", .tensor(result.centerNext))], on: backend)
    }
}
