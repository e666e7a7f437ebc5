// Sizes from users checked against the host's memory before allocating: a clear error where
// Swift would end the process ("failed to allocate").
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

@Suite struct HostMemoryTests {
    @Test("a size beyond half of the host's memory, or one whose product overflows, is an error naming it")
    func limit() throws {
        try HostMemory.require([1024, 1024], what: "small")
        let limit = HostMemory.limitBytes
        let error = #expect(throws: SSLError.self) { try HostMemory.require([limit / 4 + 1], what: "a queue") }
        #expect(error == .tooLargeForHost(what: "a queue", bytes: (limit / 4 + 1) * 4, limit: limit))
        let overflow = #expect(throws: SSLError.self) { try HostMemory.require([Int.max / 2, 3], what: "huge") }
        #expect(overflow?.description.contains("more bytes than can be counted") == true)
    }

    @Test("a layer width, a MoCo queue and a reference tensor too large for the host are errors, not crashes")
    func userSizes() throws {
        let backend = TestBackends.reference
        let wide = #expect(throws: SSLError.self) {
            _ = try Linear(name: "projector.0", inFeatures: 512, outFeatures: 100_000_000, seed: 0, on: backend)
        }
        #expect(wide?.description.hasPrefix("Linear projector.0's weight (512 → 100000000) needs 204800000000 bytes") == true,
                "\(String(describing: wide))")
        var config = TrainingFixtures.config(.moco)
        config.queueSize = 1_000_000_000_000
        let queue = #expect(throws: SSLError.self) {
            _ = try ObjectiveFactory.make(TrainContrastiveTests.setup(config, on: backend))
        }
        #expect(queue?.description.hasPrefix("the MoCo queue of 1000000000000 keys") == true, "\(String(describing: queue))")
        let tensor = #expect(throws: SSLError.self) { _ = try backend.zeros([200_000, 200_000]) }
        #expect(tensor?.description.hasPrefix("a tensor of shape (200000, 200000) on the reference backend needs") == true,
                "\(String(describing: tensor))")
    }

    /// Inputs of a few megabytes whose quadratic intermediates (D×D, 2N×2N, R×C, a padded
    /// output) would need terabytes on the reference backend.
    @Test("the reference ops' quadratic intermediates are checked before allocating")
    func quadraticIntermediates() throws {
        let backend = TestBackends.reference
        let wide = try backend.zeros([2, 1 << 20]), tall = try backend.zeros([1 << 18, 1])
        let cases: [(String, () throws -> Void)] = [
            ("Barlow Twins' D×D cross-correlation (D 1048576)", { _ = try backend.barlowTwins(wide, wide, lambda: 0.005, eps: 1e-5, form: .feature) }),
            ("VICReg's D×D covariance (D 1048576)", { _ = try backend.vicreg(wide, wide, simCoeff: 25, stdCoeff: 25, covCoeff: 1, form: .feature) }),
            ("the D×D cross-correlation (D 1048576)", { _ = try backend.crossCorrelation(wide, wide, eps: 1e-5) }),
            ("NT-Xent's 2N×2N similarities (N 262144)", { _ = try backend.ntXent(tall, tall, temperature: 0.1, algorithm: .automatic) }),
            ("pairwise distances (262144 × 262144)", { _ = try backend.pairwiseDistances(tall, tall, metric: .euclidean, diagonalOffset: nil) }),
            ("conv2d's output (1, 1, 400001, 400001)", {
                _ = try backend.conv2d(try backend.zeros([1, 1, 1, 1]), weight: try backend.zeros([1, 1, 1, 1]), stride: 1, padding: 200_000)
            }),
        ]
        for (what, run) in cases {
            let error = #expect(throws: SSLError.self, "\(what)") { try run() }
            #expect(error?.description.hasPrefix(what + " needs") == true, "\(String(describing: error))")
        }
    }
}
