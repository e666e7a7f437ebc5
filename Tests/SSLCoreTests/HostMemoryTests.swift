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
}
