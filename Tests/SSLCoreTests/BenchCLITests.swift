// `ssl-bench` as a subprocess: every workload name parses, --quick stays CI-sized, --compare reads
// peer rows, and a real run writes the JSON schema the peer scripts copy. The binary is the one
// built beside the tests (`swift build --build-tests` builds every executable).
import Foundation
import Testing

/// The built `ssl-bench` beside the test bundle.
private var benchBinary: URL? {
    let url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ssl-bench")
    return FileManager.default.isExecutableFile(atPath: url.path) ? url : nil
}

/// Runs ssl-bench with `arguments`; returns its exit status, standard output and standard error.
private func runBench(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
    guard let binary = benchBinary else {
        Issue.record("the ssl-bench binary is not built beside the tests (run swift build --build-tests)")
        return (-1, "", "")
    }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    let output = Pipe(), error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
}

/// Each line of `text` as a JSON object.
private func jsonLines(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { line in
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
    }
}

/// The workload names ssl-bench documents and Benchmarks/peers/bench_common.py's OPS lists.
private let benchOps = ["gemm", "xcorr", "sinkhorn", "barlow", "vicreg", "ntxent", "knn"]

@Suite(.enabled(if: benchBinary != nil || ProcessInfo.processInfo.environment["CI"] != nil))
struct BenchCLITests {
    @Test("every workload name parses, and its --quick sizes are small and checked at their own size")
    func quickSizes() throws {
        for op in benchOps {
            let run = try runBench(["--quick", "--op", op, "--dry-run"])
            #expect(run.status == 0, "\(op): \(run.error)")
            let plan = try jsonLines(run.output)
            #expect(!plan.isEmpty, "\(op) plans no workload")
            for row in plan {
                #expect(row["op"] as? String == op)
                let shape = try #require(row["shape"] as? [Int])
                let flops = try #require(row["flops"] as? Double), bytes = try #require(row["bytes"] as? Double)
                // CI-sized: at most ~1e8 flops and a few MB, which PoCL runs in well under a second.
                #expect(flops <= 1e8 && bytes <= 2e7, "\(op) \(shape): \(flops) flops, \(bytes) bytes")
                #expect(row["checked_shape"] as? [Int] == shape, "\(op) \(shape) is not checked at its own size")
            }
        }
        #expect(try runBench(["--op", "conv", "--dry-run"]).status != 0)
        #expect(try runBench(["--op", "gemm", "--knn", "10x10x4", "--dry-run"]).status != 0)
        #expect(try runBench(["--knn", "10x10", "--dry-run"]).status != 0)
    }

    @Test("a large workload is checked through a smaller twin of the same op, in the same regime (N < D stays N < D)")
    func largeWorkloadsCheckASmallerTwin() throws {
        let run = try runBench(["--dry-run", "--gemm", "4096", "--barlow", "512x8192", "--ntxent", "8192x128"])
        #expect(run.status == 0, "\(run.error)")
        let checked = try jsonLines(run.output).map { $0["checked_shape"] as? [Int] }
        #expect(checked == [[257, 131, 193], [97, 211], [97, 97]], "\(checked)")
    }

    @Test("a variant off the reference by more than its tolerance gets no timing row and a non-zero exit",
          .enabled(if: TestBackends.hasOpenCL))
    func wrongResultsAreNotTimed() throws {
        // Tolerance 0 breaks a correct variant: float32 rounding alone exceeds it.
        let broken = try runBench(["--device", "opencl", "--op", "gemm", "--gemm", "33x17x9", "--gemm", "16",
                                   "--runs", "1", "--warmup", "0", "--tolerance", "0", "--json"])
        #expect(broken.status != 0)
        #expect(broken.output.isEmpty, "a wrong variant was timed: \(broken.output)")
        #expect(broken.error.contains("gemm 33x17x9") && broken.error.contains("not timed"), "\(broken.error)")
        #expect(broken.error.contains("2 of 2 workloads gave wrong results"), "\(broken.error)")
        let checks = try runBench(["--device", "opencl", "--op", "gemm", "--gemm", "33x17x9", "--check-only"])
        #expect(checks.status == 0 && checks.output.contains("ok  gemm"), "\(checks.output)\(checks.error)")
        let strict = try runBench(["--device", "opencl", "--op", "gemm", "--gemm", "33x17x9", "--check-only", "--tolerance", "0"])
        #expect(strict.status != 0 && strict.error.contains("not timed"), "\(strict.error)")
        #expect(try runBench(["--tolerance", "-1", "--dry-run"]).status != 0)
    }

    @Test("--redundancy-form and --ntxent-algorithm plan one row per variant, a variant auto repeats once")
    func variants() throws {
        let run = try runBench(["--quick", "--op", "barlow", "--op", "vicreg", "--op", "ntxent", "--dry-run",
                                "--redundancy-form", "auto", "--redundancy-form", "gram", "--redundancy-form", "feature",
                                "--ntxent-algorithm", "fused", "--ntxent-algorithm", "gemm"])
        #expect(run.status == 0, "\(run.error)")
        let rows = try jsonLines(run.output).map { "\($0["op"] as? String ?? "?") \($0["variant"] as? String ?? "?")" }
        // --quick barlow and vicreg are 64×128: auto is the Gram form there.
        #expect(rows == ["barlow gram+clblast", "barlow feature+clblast", "vicreg gram+clblast", "vicreg feature+clblast",
                         "ntxent fused", "ntxent gemm+clblast"], "\(rows)")
        #expect(try runBench(["--quick", "--op", "barlow", "--redundancy-form", "fused", "--dry-run"]).status != 0)
    }

    @Test("the default sizes are the issue's GPU sizes")
    func defaultSizes() throws {
        let run = try runBench(["--dry-run"])
        #expect(run.status == 0, "\(run.error)")
        let shapes = try jsonLines(run.output).map { "\($0["op"] as? String ?? "?") \(($0["shape"] as? [Int]) ?? [])" }
        for expected in ["gemm [8192, 8192, 8192]", "xcorr [2048, 8192]", "sinkhorn [16384, 3000]",
                         "barlow [2048, 8192]", "vicreg [2048, 8192]", "ntxent [4096, 2048]",
                         "knn [50000, 10000, 512, 20]"] {
            #expect(shapes.contains(expected), "\(expected) not in \(shapes)")
        }
    }

    @Test("--compare plans the (op, shape) rows of the files, once each, skipping unknown ops")
    func comparePlan() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("peer-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        let rows = [
            #"{"op":"gemm","variant":"torch-eager","shape":[7,5,3],"device":"cpu","median_ms":1.5}"#,
            #"{"op":"gemm","variant":"torch-compile","shape":[7,5,3],"device":"cpu","median_ms":1.0}"#,
            #"{"op":"conv","variant":"torch-eager","shape":[1,2],"device":"cpu","median_ms":1.0}"#,
            #"{"op":"knn","variant":"numpy","shape":[30,4,3,5],"device":"cpu","median_ms":2.0}"#,
        ]
        try (rows.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let run = try runBench(["--compare", file.path, "--dry-run"])
        #expect(run.status == 0, "\(run.error)")
        let plan = try jsonLines(run.output).map { "\($0["op"] as? String ?? "?") \(($0["shape"] as? [Int]) ?? [])" }
        #expect(plan == ["gemm [7, 5, 3]", "knn [30, 4, 3, 5]"])
        #expect(run.error.contains("conv"))
        try "not json\n".write(to: file, atomically: true, encoding: .utf8)
        let bad = try runBench(["--compare", file.path, "--dry-run"])
        #expect(bad.status != 0 && bad.error.contains(":1:"), "\(bad.error)")
    }

    @Test("a run writes ssl-bench's JSON schema; --compare prints ours beside the peer's, run or read with --ours")
    func runAndCompare() throws {
        let run = try runBench(["--device", "reference", "--json", "--runs", "1", "--warmup", "0",
                                "--ntxent", "4x3", "--knn", "40x6x5x3"])
        #expect(run.status == 0, "\(run.error)")
        let rows = try jsonLines(run.output)
        #expect(rows.map { $0["op"] as? String } == ["ntxent", "knn"])
        let keys = ["op", "variant", "shape", "device", "warmup", "runs", "timing", "median_ms", "min_ms", "gflops",
                    "gbps", "max_rel_err"]
        for row in rows { #expect(Set(row.keys) == Set(keys), "\(row.keys)") }
        #expect(rows.last?["timing"] as? String == "wall")

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ours-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        try run.output.write(to: file, atomically: true, encoding: .utf8)
        let compared = try runBench(["--device", "reference", "--runs", "1", "--warmup", "0", "--compare", file.path])
        #expect(compared.status == 0, "\(compared.error)")
        let lines = compared.output.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("op ") && $0.contains("ours/reference") }, "\(compared.output)")
        #expect(lines.contains { $0.hasPrefix("ntxent") } && lines.contains { $0.hasPrefix("knn") }, "\(compared.output)")

        // --ours reads our medians from a file instead of running: against itself, every ratio is 1.
        let offline = try runBench(["--compare", file.path, "--ours", file.path])
        #expect(offline.status == 0 && !offline.error.contains("device:"), "\(offline.error)")
        let ratios = offline.output.split(separator: "\n").filter { $0.hasPrefix("ntxent") || $0.hasPrefix("knn") }
        #expect(ratios.count == 2 && ratios.allSatisfy { $0.hasSuffix("1.00") }, "\(offline.output)")
    }

    /// Tiny steps on the device the tests use: the rows carry the method, the network's shape and
    /// images/s; --compare matches a peer's rows by (method, shape) and prints ours/peer.
    @Test("--train times whole steps, writes train rows, profiles them, and compares with a peer's rows")
    func trainSteps() throws {
        let device = TestBackends.hasOpenCL ? "opencl" : "reference"
        let run = try runBench(["--device", device, "--json", "--train", "simclr", "--train", "barlow", "--train-size", "16x12x8",
                                "--train-projector", "6,6,6", "--warmup", "1", "--runs", "2"])
        // barlow takes three projector widths, simclr one: --train-projector must fit every method given.
        #expect(run.status != 0 && run.error.contains("--train-projector"), "\(run.error)")

        let simclr = try runBench(["--device", device, "--json", "--train", "simclr", "--train-size", "16x12x8",
                                   "--warmup", "1", "--runs", "2", "--profile"])
        #expect(simclr.status == 0, "\(simclr.error)")
        let rows = try jsonLines(simclr.output)
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(row["op"] as? String == "train" && row["variant"] as? String == "simclr" && row["encoder"] as? String == "mlp")
        #expect(row["shape"] as? [Int] == [16, 12, 8, 128], "\(row)")
        let convnet = try runBench(["--device", device, "--json", "--train", "simclr", "--train-encoder", "convnet",
                                    "--train-size", "8x2x3x4", "--warmup", "1", "--runs", "2"])
        let convRow = try #require(try jsonLines(convnet.output).first, "\(convnet.error)")
        #expect(convRow["encoder"] as? String == "convnet" && convRow["shape"] as? [Int] == [8, 2, 3, 4, 128], "\(convRow)")
        let badEncoder = try runBench(["--train", "simclr", "--train-encoder", "resnet"])
        #expect(badEncoder.status != 0 && badEncoder.error.contains("--train-encoder"), "\(badEncoder.error)")
        let rate = try #require(row["images_per_s"] as? Double), median = try #require(row["median_ms"] as? Double)
        #expect(rate > 0 && median > 0)
        if TestBackends.hasOpenCL {
            #expect(simclr.error.contains("profile of simclr 16x12x8x128") && simclr.error.contains("device busy"), "\(simclr.error)")
        }

        // A peer row ten times as fast as ours: ours/peer is printed, about 0.1.
        let peer = row.merging(["device": "peer", "median_ms": median / 10, "images_per_s": rate * 10]) { $1 }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("train-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        try String(decoding: try JSONSerialization.data(withJSONObject: peer), as: UTF8.self).write(to: file, atomically: true, encoding: .utf8)
        let compared = try runBench(["--device", device, "--train", "simclr", "--warmup", "1", "--runs", "2", "--compare", file.path])
        #expect(compared.status == 0, "\(compared.error)")
        let line = try #require(compared.output.split(separator: "\n").first { $0.hasPrefix("simclr") }, "\(compared.output)")
        let ratio = try #require(Double(line.split(separator: " ").last.map(String.init) ?? ""))
        #expect(ratio > 0 && ratio < 1, "\(line)")
    }
}
