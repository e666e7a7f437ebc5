// Silhouette: against its definition written plainly, scikit-learn's silhouette_samples and
// silhouette_score (fixtures), chunked against unchunked, the Double reference, and errors.
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

@Suite struct EvalSilhouetteTests {
    /// Three clusters around shifted centres, labels 4, 8, 9 and a singleton 2.
    static func clustered(seed: UInt64) throws -> (FeatureMatrix, [Int]) {
        var rng = SeededRandom(seed: seed)
        let (n, d) = (23, 5)
        let labels = (0..<n).map { $0 == 0 ? 2 : [4, 8, 9][$0 % 3] }
        let values = (0..<n).flatMap { i in rng.uniform(d).enumerated().map { $1 + Float(labels[i]) * Float($0 % 2 == 0 ? 0.6 : -0.3) } }
        return (try FeatureMatrix(values: values, rows: n, columns: d), labels)
    }

    static let chunkings: [(Int, Int)] = [(1000, 1000), (3, 5), (1, 23), (22, 1)]

    @Test("samples equal the plain definition for both metrics and any chunking, on every backend")
    func matchesDefinition() throws {
        let (features, labels) = try Self.clustered(seed: 8)
        for metric in DistanceMetric.allCases {
            let expected = evalBruteSilhouette(features, labels: labels, cosine: metric == .cosine)
            #expect(expected[0] == 0)  // the singleton
            let reference = try EvalReference.silhouetteSamples(features: features.values.map(Double.init), d: features.columns,
                                                                labels: labels, metric: metric)
            assertClose(reference.map(Float.init), expected, shape: [reference.count], expectedShape: [expected.count],
                        rtol: 1e-6, atol: 1e-6, "EvalReference \(metric)")
            try forEachBackend { backend in
                for (rows, columns) in Self.chunkings {
                    let s = try Silhouette(metric: metric, rowChunk: rows, columnChunk: columns).samples(features, labels: labels, on: backend)
                    // Float32 GEMM distances on centred data (‖x‖² ≲ 10): ~1e-6 relative; s is a ratio of means.
                    assertClose(s, expected, shape: [s.count], expectedShape: [expected.count], rtol: 1e-4, atol: 1e-5,
                                "\(metric) chunks \(rows)×\(columns) on \(backend.name)")
                }
            }
        }
    }

    @Test("equals scikit-learn's silhouette_samples and silhouette_score (fixtures)", arguments: DistanceMetric.allCases)
    func matchesScikitLearn(_ metric: DistanceMetric) throws {
        let features = try EvalFixtures.features("silhouette_features")
        let labels = try EvalFixtures.integers("silhouette_labels")
        let expected = try EvalFixtures.doubles("silhouette_\(metric.rawValue)_samples")
        let score = try EvalFixtures.doubles("silhouette_\(metric.rawValue)_score")[0]
        #expect(expected.contains(0))  // the fixture has a singleton
        try forEachBackend { backend in
            let silhouette = Silhouette(metric: metric, rowChunk: 8, columnChunk: 13)
            let s = try silhouette.samples(features, labels: labels, on: backend)
            // The points sit about 5 from the origin: centring keeps euclidean cancellation at ~1e-7
            // relative; cosine distances of these near-parallel rows are small, so float32's ~1e-7 in
            // x̂·ŷ is ~1e-6 relative (measured on PoCL: 2e-7 and 1.4e-6).
            assertClose(s, expected, shape: [s.count], expectedShape: [expected.count], rtol: 1e-4, atol: 1e-5,
                        "\(metric) on \(backend.name)")
            #expect(abs(try silhouette.score(features, labels: labels, on: backend) - score) < 1e-4, "\(backend.name)")
        }
    }

    @Test("separated clusters score near 1, shuffled labels near 0")
    func separation() throws {
        var rng = SeededRandom(seed: 4)
        let labels = (0..<40).map { $0 % 4 }
        let tight = try FeatureMatrix(values: (0..<40).flatMap { i in rng.uniform(3, scale: 0.01).map { $0 + Float(labels[i] * 10) } },
                                      rows: 40, columns: 3)
        let noise = try evalRandomFeatures(40, 3, seed: 5)
        try forEachBackend { backend in
            let separated = try Silhouette().score(tight, labels: labels, on: backend)
            let random = try Silhouette().score(noise, labels: labels, on: backend)
            #expect(separated > 0.99 && abs(random) < 0.2, "\(separated), \(random) on \(backend.name)")
        }
    }

    @Test("fewer than 2 or more than N − 1 labels, a label count other than N, or a bad chunk are errors")
    func errors() throws {
        let f = try evalRandomFeatures(4, 2, seed: 1)
        func message(_ labels: [Int], _ s: Silhouette = Silhouette()) -> String {
            do { _ = try s.samples(f, labels: labels, on: TestBackends.reference); return "no error" } catch { return "\(error)" }
        }
        #expect(message([1, 1, 1, 1]) == "silhouette: number of labels is 1; valid values are 2 to n_samples - 1 = 3 (inclusive)")
        #expect(message([0, 1, 2, 3]).contains("number of labels is 4"))
        #expect(message([0, 1, 1]) == "silhouette: shape mismatch: 3 labels for 4 samples")
        #expect(message([0, 1, 1, 0], Silhouette(rowChunk: 0)).contains("rowChunk must be at least 1"))
        #expect(message([0, 1, 1, 0], Silhouette(columnChunk: 0)).contains("columnChunk must be at least 1"))
        #expect(message([0, 1, 1, 0]) == "no error")
    }
}
