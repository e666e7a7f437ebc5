// `ssl op …` end to end, in process: .npy in, .npy out, against NumPy float64 fixtures.
import ArgumentParser
import Foundation
import Testing
@testable import SSLCore
import SSLCommandLine
@testable import ssl

private func runSSL(_ arguments: [String]) throws {
    var command = try SSLCommand.parseAsRoot(arguments)
    try command.run()
}

private func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private var devices: [String] { TestBackends.hasOpenCL ? ["reference", "opencl"] : ["reference"] }

@Suite struct CLITests {
    /// The issue's bounds: 1e-5 relative for GEMM, 1e-4 for xcorr and Sinkhorn, 1e-3 at ε = 0.01.
    @Test("ssl op gemm / xcorr / sinkhorn match NumPy float64 on every device")
    func opsMatchNumPy() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for device in devices {
            let out = folder.appendingPathComponent("out-\(device).npy").path
            let checks: [([String], String, Double)] = [
                (["op", "gemm", "--a", Fixtures.path("gemm_33x65x17_TN_a"), "--b", Fixtures.path("gemm_33x65x17_TN_b"),
                  "--transpose-a", "--alpha", "0.5"], "gemm_33x65x17_TN_c", 1e-5),
                (["op", "gemm", "--a", Fixtures.path("gemm_7x13x5_NT_a"), "--b", Fixtures.path("gemm_7x13x5_NT_b"),
                  "--transpose-b", "--alpha", "0.5"], "gemm_7x13x5_NT_c", 1e-5),
                (["op", "xcorr", "--z1", Fixtures.path("xcorr_64x33_z1"), "--z2", Fixtures.path("xcorr_64x33_z2")],
                 "xcorr_64x33_c", 1e-4),
                (["op", "sinkhorn", "--scores", Fixtures.path("sinkhorn_50x129_scores")], "sinkhorn_50x129_eps0.05_codes", 1e-4),
                (["op", "sinkhorn", "--scores", Fixtures.path("sinkhorn_50x129_scores"), "--epsilon", "0.01", "--iterations", "3"],
                 "sinkhorn_50x129_eps0.01_codes", 1e-3),
            ]
            for (arguments, expectedName, tolerance) in checks {
                try runSSL(arguments + ["--out", out, "--device", device])
                let result = try NumPy.read(out)
                let expected = try Fixtures.doubles(expectedName)
                let scale = expected.values.map(abs).max() ?? 1
                #expect(result.dtype == .float32)
                assertClose(try result.floats(), expected.values, shape: result.shape, expectedShape: expected.shape,
                            rtol: tolerance, atol: tolerance * scale, "\(arguments[1]) \(expectedName) on \(device)")
            }
        }
    }

    @Test("a bad input file is an error naming it, and nothing is written")
    func badInput() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("c.npy").path
        let bad = Fixtures.path("npy_truncated")
        let error = #expect(throws: SSLError.self) {
            try runSSL(["op", "gemm", "--a", bad, "--b", bad, "--out", out, "--device", "reference"])
        }
        #expect(error?.description.contains(bad) == true)
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    /// Under another name too: a hard link is the same file.
    @Test("an output that is one of the inputs is refused, and the input stays as it was")
    func outputOntoAnInput() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let a = folder.appendingPathComponent("a.npy").path, alias = folder.appendingPathComponent("alias.npy").path
        try FileManager.default.copyItem(atPath: Fixtures.path("gemm_7x13x5_NN_a"), toPath: a)
        try FileManager.default.linkItem(atPath: a, toPath: alias)
        let before = try Data(contentsOf: URL(fileURLWithPath: a))
        let b = Fixtures.path("gemm_7x13x5_NN_b")
        for arguments in [["op", "gemm", "--a", a, "--b", b, "--out", a], ["op", "gemm", "--a", a, "--b", b, "--out", alias],
                          ["op", "sinkhorn", "--scores", a, "--out", folder.path + "/./a.npy"],
                          ["loss", "barlow", "--z1", folder.appendingPathComponent("loss.npy").path, "--z2", a, "--out", folder.path]] {
            if arguments.contains(folder.appendingPathComponent("loss.npy").path) {
                try FileManager.default.copyItem(atPath: a, toPath: folder.appendingPathComponent("loss.npy").path)
            }
            let error = #expect(throws: SSLError.self, "\(arguments)") { try runSSL(arguments + ["--device", "reference"]) }
            #expect(error?.description.contains("is also the input") == true, "\(String(describing: error))")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: a)) == before)
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.appendingPathComponent("loss.npy").path)) == before)

        // The last of four outputs collides: none of the first three is written either.
        let out = folder.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let last = out.appendingPathComponent("grad_z2.npy").path
        try FileManager.default.copyItem(atPath: a, toPath: last)
        let error = #expect(throws: SSLError.self) {
            try runSSL(["loss", "barlow", "--z1", a, "--z2", last, "--out", out.path, "--device", "reference"])
        }
        #expect(error?.description.contains("is also the input") == true, "\(String(describing: error))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == ["grad_z2.npy"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: last)) == before)
    }

    @Test("a negative number after an option reaches the option's own check, not \"Missing value\"")
    func negativeValues() throws {
        #expect(NegativeValues.joined(["train", "--lr", "-1", "--epsilon", "-1e-3", "--x", "-.5", "--y", "-inf"])
                == ["train", "--lr=-1", "--epsilon=-1e-3", "--x=-.5", "--y=-inf"])
        #expect(NegativeValues.joined(["--resume", "--force", "-h", "--lr=-1", "--out", "-"]) == ["--resume", "--force", "-h", "--lr=-1", "--out", "-"])
        let ssl = try #require(sslBinary, "the ssl executable beside the tests")
        let run = try runProcess(ssl, ["op", "sinkhorn", "--scores", Fixtures.path("sinkhorn_37x11_scores"), "--epsilon", "-1",
                                       "--out", "/nonexistent/never-written.npy"], timeout: 60)
        #expect(run.status != 0 && run.output.contains("--epsilon must be positive, got -1.0") && !run.output.contains("Missing value"),
                "\(run.output)")
    }

    @Test("NaN in an input is refused with the input's name")
    func nanInput() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let a = folder.appendingPathComponent("a.npy").path
        try NumPy.write([1, .nan, 3, 4], shape: [2, 2], to: a)
        let error = #expect(throws: SSLError.self) {
            try runSSL(["op", "gemm", "--a", a, "--b", a, "--out", a + ".out", "--device", "reference"])
        }
        #expect(error == .nonFinite(what: "A (\(a))"))
    }

    @Test("an unknown device or a bad option value is a usage error")
    func usageErrors() {
        #expect(throws: (any Error).self) {
            _ = try SSLCommand.parseAsRoot(["op", "sinkhorn", "--scores", "s.npy", "--out", "q.npy", "--device", "cuda"])
        }
        #expect(throws: (any Error).self) {
            _ = try SSLCommand.parseAsRoot(["op", "sinkhorn", "--scores", "s.npy", "--out", "q.npy", "--epsilon", "0"])
        }
        #expect(throws: (any Error).self) { _ = try SSLCommand.parseAsRoot(["op", "gemm", "--a", "a.npy"]) }
    }
}

@Suite struct NoPlatformTests {
    /// Runs `ssl` with an ICD vendor folder that lists no driver.
    private func runWithoutPlatforms(_ arguments: [String]) throws -> (status: Int32, output: String) {
        guard let binary = sslBinary else {
            Issue.record("the ssl binary is not built beside the tests (run swift build --build-tests)")
            return (-1, "")
        }
        let vendors = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: vendors) }
        let run = try runProcess(binary, arguments, timeout: 600,
                                 environment: ["OCL_ICD_VENDORS": vendors.path, "SSL_DEVICE": nil])
        return (run.status, run.output)
    }

    @Test("no OpenCL platform: --device opencl names the packages and --device reference",
          .enabled(if: sslBinary != nil || ProcessInfo.processInfo.environment["CI"] != nil))
    func noPlatform() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("q.npy").path
        let scores = Fixtures.path("sinkhorn_37x11_scores")
        let failed = try runWithoutPlatforms(["op", "sinkhorn", "--scores", scores, "--out", out, "--device", "opencl"])
        #expect(failed.status != 0)
        #expect(failed.output.contains("no OpenCL platform") && failed.output.contains("pocl-opencl-icd")
                && failed.output.contains("--device reference"), "\(failed.output)")
        // auto falls back to the reference backend and still computes.
        let fallback = try runWithoutPlatforms(["op", "sinkhorn", "--scores", scores, "--out", out])
        #expect(fallback.status == 0 && fallback.output.contains("device: reference"), "\(fallback.output)")
        #expect(try NumPy.read(out).shape == [37, 11])
        let listing = try runWithoutPlatforms(["devices"])
        #expect(listing.status == 0 && listing.output.contains("auto picks: reference"), "\(listing.output)")
    }

    /// PoCL lists no device when it cannot create its kernel cache, and says why only with
    /// POCL_DEBUG: `ssl devices` must say it rather than only "auto picks: reference".
    @Test("a platform without devices is listed with the reason; PoCL's unwritable cache is named",
          .enabled(if: TestBackends.openCL?.device.platformName.contains("Portable Computing Language") == true))
    func platformWithoutDevices() throws {
        let binary = try #require(sslBinary, "the ssl binary beside the tests")
        let run = try runProcess(binary, ["devices"], timeout: 120, environment: ["POCL_CACHE_DIR": "/proc/no-such-folder"])
        #expect(run.status == 0 && run.output.contains("no devices (clGetDeviceIDs: CL_DEVICE_NOT_FOUND; PoCL reports none when it cannot create its kernel cache")
                && run.output.contains("auto picks: reference (CPU, Double accumulation): no OpenCL platform lists a device"),
                "\(run.output)")
    }
}
