// `ssl eval knn / margin / silhouette / linear` in process: fixture files in, .npy out, and errors naming files.
import ArgumentParser
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain
@testable import ssl

private func evalRunSSL(_ arguments: [String]) throws {
    var command = try SSLCommand.parseAsRoot(arguments)
    try command.run()
}

private func evalTemporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-eval-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private var evalDevices: [String] { TestBackends.hasOpenCL ? ["reference", "opencl"] : ["reference"] }

private func evalTrainTest(_ prefix: String) -> [String] {
    ["--train-features", EvalFixtures.path(prefix + "_train_features"), "--train-labels", EvalFixtures.path(prefix + "_train_labels"),
     "--test-features", EvalFixtures.path(prefix + "_test_features"), "--test-labels", EvalFixtures.path(prefix + "_test_labels")]
}

@Suite struct EvalCLITests {
    @Test("ssl eval knn writes DINO's predictions as int64")
    func knn() throws {
        let folder = try evalTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for device in evalDevices {
            for (extra, tag) in [([String](), "knn_k20_t0.07"), (["--k", "5"], "knn_k5_t0.07"), (["--k", "20", "--temperature", "0.5"], "knn_k20_t0.5")] {
                let out = folder.appendingPathComponent("\(device)-\(tag)").path
                try evalRunSSL(["eval", "knn"] + evalTrainTest("knn") + extra + ["--out", out, "--device", device])
                let predictions = try NumPy.read(out + "/predictions.npy")
                #expect(predictions.dtype == .int64 && predictions.shape == [23])
                #expect(try predictions.integers().map { Int($0) } == EvalFixtures.integers(tag + "_predictions"), "\(tag) on \(device)")
            }
        }
    }

    @Test("ssl eval silhouette writes scikit-learn's samples", arguments: DistanceMetric.allCases)
    func silhouette(_ metric: DistanceMetric) throws {
        let folder = try evalTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for device in evalDevices {
            let out = folder.appendingPathComponent(device).path
            try evalRunSSL(["eval", "silhouette", "--features", EvalFixtures.path("silhouette_features"),
                            "--labels", EvalFixtures.path("silhouette_labels"), "--metric", metric.rawValue,
                            "--out", out, "--device", device])
            let samples = try NumPy.read(out + "/samples.npy")
            let expected = try EvalFixtures.doubles("silhouette_\(metric.rawValue)_samples")
            // As EvalSilhouetteTests.matchesScikitLearn.
            assertClose(try samples.floats(), expected, shape: samples.shape, expectedShape: [expected.count],
                        rtol: 1e-4, atol: 1e-5, "\(metric) on \(device)")
        }
    }

    @Test("ssl eval margin writes the margins, NaN where none is defined", arguments: DistanceMetric.allCases)
    func margin(_ metric: DistanceMetric) throws {
        let folder = try evalTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let features = EvalFixtures.path("silhouette_features"), labels = EvalFixtures.path("silhouette_labels")
        let expected = try NearestNeighbourMargin(metric: metric).evaluate(
            try EvalFixtures.features("silhouette_features"), labels: try EvalFixtures.integers("silhouette_labels"),
            on: TestBackends.reference).samples
        #expect(expected.contains(nil))  // the fixture has a singleton
        for device in evalDevices {
            let out = folder.appendingPathComponent(device).path
            try evalRunSSL(["eval", "margin", "--features", features, "--labels", labels, "--metric", metric.rawValue,
                            "--out", out, "--device", device])
            let samples = try NumPy.read(out + "/samples.npy").floats()
            #expect(samples.map(\.isNaN) == expected.map { $0 == nil })
            // As EvalMarginTests: float32 distances, a difference of two.
            assertClose(samples.map { $0.isNaN ? 0 : $0 }, expected.map { Double($0 ?? 0) }, shape: [samples.count],
                        expectedShape: [expected.count], rtol: 1e-4, atol: 1e-5, "\(metric) on \(device)")
        }
    }

    @Test("ssl eval linear writes scikit-learn's test predictions")
    func linear() throws {
        let folder = try evalTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for device in evalDevices {
            let out = folder.appendingPathComponent(device).path
            try evalRunSSL(["eval", "linear"] + evalTrainTest("linear") + ["--out", out, "--device", device])
            let predictions = try NumPy.read(out + "/predictions.npy")
            #expect(predictions.dtype == .int64)
            #expect(try predictions.integers().map { Int($0) } == EvalFixtures.integers("linear_test_predictions"), "\(device)")
        }
    }

    @Test("labels that do not match the features, bad files and bad options are errors naming them")
    func errors() throws {
        let folder = try evalTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("out").path
        let short = folder.appendingPathComponent("short.npy").path
        try NumPy.write([Int64](repeating: 0, count: 3), shape: [3], to: short)
        var arguments = evalTrainTest("knn")
        arguments[3] = short  // --train-labels
        let mismatch = #expect(throws: SSLError.self) { try evalRunSSL(["eval", "knn"] + arguments + ["--out", out]) }
        #expect(mismatch?.description.contains(short) == true && mismatch?.description.contains("knn_train_features") == true,
                "\(String(describing: mismatch))")
        #expect(!FileManager.default.fileExists(atPath: out))

        let floatLabels = EvalFixtures.path("silhouette_features")
        let dtype = #expect(throws: SSLError.self) {
            try evalRunSSL(["eval", "silhouette", "--features", floatLabels, "--labels", floatLabels, "--out", out])
        }
        #expect(dtype?.description.contains(floatLabels) == true, "\(String(describing: dtype))")
        let rank = #expect(throws: SSLError.self) {
            try evalRunSSL(["eval", "silhouette", "--features", EvalFixtures.path("silhouette_labels"),
                            "--labels", EvalFixtures.path("silhouette_labels"), "--out", out])
        }
        #expect(rank?.description.contains("expected a 2-D array") == true)

        let tooMany = #expect(throws: SSLError.self) {
            try evalRunSSL(["eval", "knn"] + evalTrainTest("knn") + ["--k", "61", "--out", out, "--device", "reference"])
        }
        #expect(tooMany?.description.contains("k = 61 must be in 1...60") == true)
        let oneLabel = folder.appendingPathComponent("one.npy").path
        try NumPy.write([Int64](repeating: 4, count: 35), shape: [35], to: oneLabel)
        #expect(throws: SSLError.self) {
            try evalRunSSL(["eval", "silhouette", "--features", EvalFixtures.path("silhouette_features"), "--labels", oneLabel,
                            "--out", out, "--device", "reference"])
        }
        for bad in [["--k", "0"], ["--temperature", "-1"], ["--metric", "manhattan"]] {
            let command = bad[0] == "--metric" ? ["eval", "silhouette", "--features", "f.npy", "--labels", "l.npy"] : ["eval", "knn"] + arguments
            #expect(throws: (any Error).self) { _ = try SSLCommand.parseAsRoot(command + bad + ["--out", out]) }
        }
        #expect(throws: (any Error).self) {
            _ = try SSLCommand.parseAsRoot(["eval", "linear"] + arguments + ["--c", "0", "--out", out])
        }
    }
}
