// GEMM tuning: the file format and its errors, the lookup by device and driver, CLBlast's search
// spaces, and `ssl tune` / SSL_GEMM_TUNING end to end in subprocesses (CLBlast's overrides are
// process-wide, so applying candidates here would change every other test's GEMMs).
import Foundation
import Testing
@testable import SSLCore
import Tuning

/// A tuning file's JSON for `device` and `driver` with CLBlast's defaults for Intel CPUs' Xgemm.
private func tuningJSON(device: String, driver: String, xgemm: [String: Int] = defaultXgemm) -> String {
    let parameters = xgemm.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
    return """
        {"device": \(JSON(device)), "driver": \(JSON(driver)), "platform": "p", "date": "2026-12-01", "command": "test",
         "kernels": {"Xgemm": {\(parameters)}, "GemmRoutine": {"XGEMM_MIN_INDIRECT_SIZE": 384}},
         "measured": {"Xgemm": {"size": [64, 64, 64], "gflops": 2, "baseline_gflops": 1, "candidates": 1}}}
        """
}

private func JSON(_ s: String) -> String { String(decoding: try! JSONEncoder().encode(s), as: UTF8.self) }

private let defaultXgemm = ["GEMMK": 0, "KREG": 1, "KWG": 32, "KWI": 2, "MDIMA": 16, "MDIMC": 16, "MWG": 64, "NDIMB": 8,
                            "NDIMC": 8, "NWG": 64, "SA": 0, "SB": 0, "STRM": 0, "STRN": 0, "VWM": 4, "VWN": 4]

private func temporaryFile(_ name: String, _ text: String) throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tuning-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let url = folder.appendingPathComponent(name)
    try Data(text.utf8).write(to: url)
    return url.path
}

@Suite struct GemmTuningTests {
    @Test("a tuning file round-trips, and its name keeps letters, digits, '.', '_' and '-' only")
    func roundTrip() throws {
        let tuning = try GemmTuning.parse(Array(tuningJSON(device: "NVIDIA H200", driver: "570.1").utf8), source: "t.json")
        #expect(tuning.kernels["Xgemm"] == defaultXgemm)
        #expect(try GemmTuning.parse([UInt8](try tuning.encoded()), source: "again") == tuning)
        #expect(GemmTuning.fileName(device: "pthread-Intel(R) Xeon(R)", driver: "3.1+debian")
                == "pthread-Intel_R__Xeon_R_--3.1_debian.json")
    }

    static let corrupt: [(String, String)] = [
        ("{\"device\": ", "not valid JSON"),
        ("{\"device\": \"d\"}", "the key 'driver' is missing"),
        (tuningJSON(device: "d", driver: "1").replacingOccurrences(of: "\"Xgemm\": {", with: "\"Xgemv\": {"), "unknown CLBlast kernel 'Xgemv'"),
        (tuningJSON(device: "d", driver: "1", xgemm: defaultXgemm.filter { $0.key != "KWG" }), "Xgemm lacks the parameter KWG"),
        (tuningJSON(device: "d", driver: "1", xgemm: defaultXgemm.merging(["MWG": 48]) { $1 }), "constraint MWG % (MDIMC·VWM) == 0"),
        (tuningJSON(device: "d", driver: "1", xgemm: defaultXgemm.merging(["VWN": -4]) { $1 }), "VWN"),
        (tuningJSON(device: "d", driver: "1", xgemm: defaultXgemm.merging(["GEMMK": 1, "KREG": 4, "KWG": 1, "KWI": 1, "NWG": 32]) { $1 }),
         "constraint MWG == NWG"),
    ]

    @Test("a corrupt file is an error naming it and what is wrong", arguments: corrupt)
    func corruptFile(_ c: (String, String)) {
        let error = #expect(throws: SSLError.self) { _ = try GemmTuning.parse(Array(c.0.utf8), source: "Tuning/bad.json") }
        #expect(error?.description.hasPrefix("Tuning/bad.json: ") == true && error?.description.contains(c.1) == true,
                "\(String(describing: error))")
    }

    @Test("every embedded tuning file parses and meets CLBlast's constraints")
    func embeddedFilesParse() throws {
        let files = try GemmTunings.files(environment: [:])
        #expect(files.count == TuningFiles.all.count)
        for file in files {
            #expect(file.source == "Tuning/" + GemmTuning.fileName(device: file.tuning.device, driver: file.tuning.driver))
        }
        #expect(try GemmTunings.files(environment: [GemmTunings.environmentVariable: "off"]).isEmpty)
    }

    @Test("lookup: SSL_GEMM_TUNING's file first, the same driver before another driver of the same device",
          .enabled(if: TestBackends.hasOpenCL))
    func lookup() throws {
        let device = TestBackends.openCL!.device
        let other = try temporaryFile("a.json", tuningJSON(device: device.name, driver: "older"))
        let found = try GemmTunings.selection(for: device, environment: [GemmTunings.environmentVariable: other])
        #expect(found?.source == other && found?.driverMatches == false)
        let exact = try temporaryFile("b.json", tuningJSON(device: device.name, driver: device.driverVersion))
        #expect(try GemmTunings.selection(for: device, environment: [GemmTunings.environmentVariable: exact])?.driverMatches == true)
        let elsewhere = try temporaryFile("c.json", tuningJSON(device: "another device", driver: device.driverVersion))
        let none = try GemmTunings.selection(for: device, environment: [GemmTunings.environmentVariable: elsewhere])
        #expect(none == nil || none?.source.hasPrefix("Tuning/") == true)  // an embedded file may still match
        let missing = #expect(throws: SSLError.self) {
            _ = try GemmTunings.files(environment: [GemmTunings.environmentVariable: "/no/such/tuning.json"])
        }
        #expect(missing?.description.contains("/no/such/tuning.json") == true)
    }

    @Test("CLBlast's own parameters for this device meet the constraints; sampled candidates fit the device",
          .enabled(if: TestBackends.hasOpenCL))
    func searchSpaces() throws {
        let device = TestBackends.openCL!.device
        for kernel in ["Xgemm", "XgemmDirect"] {
            let inUse = try GemmTunings.parametersInUse(kernel, on: device)
            #expect(Set(inUse.keys) == Set(GemmTuning.parameterNames[kernel]!), "\(kernel): \(inUse)")
            #expect(GemmSearchSpace.brokenConstraint(kernel: kernel, inUse) == nil, "\(kernel): \(inUse)")
        }
        var generator = SplitMix64(seed: 5)
        for space in [GemmSearchSpace.xgemmKernel0, .xgemmKernel1, .xgemmDirect] {
            for _ in 0..<50 {
                let p = try #require(space.random(&generator, on: device))
                #expect(space.contains(p) && GemmSearchSpace.brokenConstraint(kernel: space.kernel, p) == nil, "\(p)")
                #expect(space.workItems(p) <= device.maxWorkGroupSize && 4 * space.localFloats(p) <= device.localMemoryBytes)
                #expect(space.neighbours(of: p, on: device).allSatisfy { q in space.admits(q, on: device) && q != p })
            }
        }
    }
}


private func runSSL(_ arguments: [String], environment extra: [String: String] = [:]) throws -> (status: Int32, output: String) {
    guard let binary = sslBinary else {
        Issue.record("the ssl binary is not built beside the tests (run swift build --build-tests)")
        return (-1, "")
    }
    let run = try runProcess(binary, arguments, timeout: 600, environment: extra)
    return (run.status, run.output)
}

@Suite(.enabled(if: TestBackends.hasOpenCL)) struct TuneCLITests {
    /// One candidate at 32³ (CLBlast recompiles its GEMM program for each, ~10 s on PoCL the first
    /// time, from PoCL's cache after), then the file applied through SSL_GEMM_TUNING.
    @Test("ssl tune writes a file that ssl devices reports and ssl op gemm applies, with correct results")
    func tuneAndApply() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tune-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("tuned.json").path
        let tune = try runSSL(["tune", "--device", "opencl", "--size", "32", "--candidates", "1", "--kernels", "xgemm",
                               "--runs", "1", "--seed", "2", "--no-paths", "--out", file],
                              environment: [GemmTunings.environmentVariable: "off"])
        #expect(tune.status == 0, "\(tune.output)")
        let tuning = try GemmTuning.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: file))), source: file)
        #expect(tuning.device == TestBackends.openCL!.device.name && tuning.measured["Xgemm"]?.candidates == 1)
        // The paths' timings at training's sizes take minutes in a debug build: PathTuner's own tests cover them.
        #expect(tuning.paths == nil && tuning.kind == TestBackends.openCL!.device.kind.rawValue)
        #expect(tune.output.contains("Xgemm #1 "), "\(tune.output)")

        // CLBlast forced: on a CPU device the host BLAS would run instead, and the file is CLBlast's.
        let applied = [GemmTunings.environmentVariable: file, KernelChoices.gemmVariable: "clblast"]
        let devices = try runSSL(["devices"], environment: applied)
        #expect(devices.status == 0 && devices.output.contains("gemm: CLBlast, tuned by \(file)"), "\(devices.output)")
        #expect(devices.output.contains("Xgemm: " + GemmTunings.describe(tuning.kernels["Xgemm"]!)), "\(devices.output)")

        let a = folder.appendingPathComponent("a.npy").path, c = folder.appendingPathComponent("c.npy").path
        var rng = SeededRandom(seed: 3)
        let values = rng.uniform(96 * 80)
        try NumPy.write(values, shape: [96, 80], to: a)
        let gemm = try runSSL(["op", "gemm", "--a", a, "--b", a, "--transpose-b", "--device", "opencl", "--out", c], environment: applied)
        #expect(gemm.status == 0 && gemm.output.contains("gemm: CLBlast, tuned by \(file)"), "\(gemm.output)")
        let ref = TestBackends.reference
        let expected = try ref.download(try ref.matmul(try ref.upload(values, shape: [96, 80]), try ref.upload(values, shape: [96, 80]),
                                                       transposeB: true))
        // K = 80 in float32: ~√80·2⁻²⁴ relative to Σ|a||b| ≤ 80.
        assertClose(try NumPy.read(c).floats(), expected.map(Double.init), shape: [96, 96], expectedShape: [96, 96],
                    rtol: 1e-5, atol: 1e-4, "GEMM with the tuned parameters")
    }

    @Test("a corrupt SSL_GEMM_TUNING file fails the commands that use OpenCL, naming the file")
    func corruptFileFails() throws {
        let bad = try temporaryFile("broken.json", "{\"device\": 1")
        let devices = try runSSL(["devices"], environment: [GemmTunings.environmentVariable: bad])
        #expect(devices.status != 0 && devices.output.contains("\(bad): not a GEMM tuning file"), "\(devices.output)")
        let op = try runSSL(["op", "sinkhorn", "--scores", Fixtures.path("sinkhorn_37x11_scores"), "--device", "opencl",
                             "--out", bad + ".npy"], environment: [GemmTunings.environmentVariable: bad])
        #expect(op.status != 0 && op.output.contains("\(bad): not a GEMM tuning file: not valid JSON"), "\(op.output)")
    }
}

/// CLBlast picks its direct kernel below XGEMM_MIN_INDIRECT_SIZE (896 on PoCL by its database),
/// so the GEMM sizes of the tests never reach the tiled, padded indirect kernel; a tuning file
/// that lowers the crossover to 16 sends a 97×96×80 GEMM there, in a subprocess (the override is
/// per process).
@Suite(.enabled(if: TestBackends.hasOpenCL)) struct CLBlastIndirectTests {
    @Test("CLBlast's indirect kernel, forced by a tuning file's XGEMM_MIN_INDIRECT_SIZE, gives the reference's C")
    func indirectKernel() throws {
        let device = TestBackends.openCL!.device
        let json = tuningJSON(device: device.name, driver: device.driverVersion)
            .replacingOccurrences(of: "\"XGEMM_MIN_INDIRECT_SIZE\": 384", with: "\"XGEMM_MIN_INDIRECT_SIZE\": 16")
        let file = try temporaryFile("indirect.json", json)
        let folder = URL(fileURLWithPath: file).deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: folder) }
        let a = folder.appendingPathComponent("a.npy").path, b = folder.appendingPathComponent("b.npy").path
        let c = folder.appendingPathComponent("c.npy").path
        var rng = SeededRandom(seed: 41)
        let av = rng.uniform(97 * 80), bv = rng.uniform(96 * 80)
        try NumPy.write(av, shape: [97, 80], to: a)
        try NumPy.write(bv, shape: [96, 80], to: b)
        let run = try runSSL(["op", "gemm", "--a", a, "--b", b, "--transpose-b", "--device", "opencl", "--out", c],
                             environment: [GemmTunings.environmentVariable: file, KernelChoices.gemmVariable: "clblast"])
        #expect(run.status == 0 && run.output.contains("gemm: CLBlast, tuned by \(file)"), "\(run.output)")
        let ref = TestBackends.reference
        let expected = try ref.download(try ref.matmul(try ref.upload(av, shape: [97, 80]), try ref.upload(bv, shape: [96, 80]),
                                                       transposeB: true)).map(Double.init)
        // K = 80 in float32: ~√80·2⁻²⁴ relative to Σ|a||b| ≤ 80.
        assertClose(try NumPy.read(c).floats(), expected, shape: [97, 96], expectedShape: [97, 96], rtol: 0,
                    atol: 1e-5 * (expected.map(abs).max() ?? 1), "indirect CLBlast GEMM")
    }
}

/// The host BLAS is loaded once per process, so its absence is tested in `ssl` subprocesses.
@Suite(.enabled(if: TestBackends.hasOpenCL)) struct HostBLASCLITests {
    @Test("without a loadable BLAS, auto falls back to CLBlast and says why; SSL_GEMM=blas is an error naming the library")
    func missingLibrary() throws {
        let missing = [HostBLAS.libraryVariable: "/nonexistent/libopenblas.so.0"]
        let devices = try runSSL(["devices"], environment: missing)
        #expect(devices.status == 0 && devices.output.contains("gemm: CLBlast"), "\(devices.output)")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("blas-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let a = folder.appendingPathComponent("a.npy").path, c = folder.appendingPathComponent("c.npy").path
        try NumPy.write([Float]([1, 2, 3, 4, 5, 6]), shape: [2, 3], to: a)
        let gemm = ["op", "gemm", "--a", a, "--b", a, "--transpose-b", "--device", "opencl", "--out", c]
        let fallback = try runSSL(gemm, environment: missing)
        #expect(fallback.status == 0 && fallback.output.contains("gemm: CLBlast"), "\(fallback.output)")
        #expect(try NumPy.read(c).floats() == [14, 32, 32, 77])
        let forced = try runSSL(gemm, environment: missing.merging([KernelChoices.gemmVariable: "blas"]) { $1 })
        #expect(forced.status != 0 && forced.output.contains("/nonexistent/libopenblas.so.0"), "\(forced.output)")
        guard TestBackends.openCL!.device.sharesHostMemory else { return }
        #expect(devices.output.contains("the host BLAS would be faster here"), "\(devices.output)")
        let blas = try runSSL(gemm)
        #expect(blas.status == 0 && blas.output.contains("gemm: host BLAS"), "\(blas.output)")
    }
}
