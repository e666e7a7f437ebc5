// The batch sampler and loader: permutations keyed by (seed, epoch), rank slices that partition
// each global batch, drop_last, argument errors, and prefetching that changes nothing but timing.
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

/// A labelled data set of `n` 2×3 byte images whose pixels encode the index.
func dataLoaderDataset(_ n: Int) throws -> ImageDataset {
    try ImageDataset(name: "toy", channels: 1, height: 2, width: 3,
                     pixels: .uint8((0..<(n * 6)).map { UInt8(($0 / 6) % 256) }), labels: (0..<n).map { $0 % 4 }, classCount: 4)
}

@Suite struct DataLoaderTests {
    @Test("each epoch's order is a permutation, a pure function of (seed, epoch)")
    func permutations() {
        for (count, seed) in [(1, 0), (2, 1), (97, 5), (1000, 42)] as [(Int, UInt64)] {
            for epoch in 0..<3 {
                let order = BatchSampler.permutation(count: count, seed: seed, epoch: epoch)
                #expect(order.sorted() == Array(0..<count))
                #expect(order == BatchSampler.permutation(count: count, seed: seed, epoch: epoch))
            }
        }
        let a = BatchSampler.permutation(count: 1000, seed: 42, epoch: 0)
        #expect(a != BatchSampler.permutation(count: 1000, seed: 42, epoch: 1))
        #expect(a != BatchSampler.permutation(count: 1000, seed: 43, epoch: 0))
        #expect(a.enumerated().filter { $0.offset == $0.element }.count < 10)  // ~1 fixed point expected
        #expect(BatchSampler(count: 5, seed: 1, shuffle: false).order(epoch: 3) == [0, 1, 2, 3, 4])
    }

    @Test("the R rank slices partition every global batch, in order, for R = 1…4", arguments: [1, 2, 3, 4])
    func rankSlices(_ worldSize: Int) throws {
        let sampler = BatchSampler(count: 50, seed: 9)
        let globalBatch = 12
        let order = sampler.order(epoch: 2)
        var seen: [Int] = []
        for step in 0..<sampler.steps(globalBatch: globalBatch) {
            let slices = try (0..<worldSize).map {
                try sampler.batchIndices(epoch: 2, step: step, globalBatch: globalBatch, rank: $0, worldSize: worldSize)
            }
            #expect(slices.allSatisfy { $0.count == globalBatch / worldSize })
            #expect(slices.flatMap { $0 } == Array(order[(step * globalBatch)..<((step + 1) * globalBatch)]))
            seen += slices.flatMap { $0 }
        }
        #expect(Set(seen).count == 48)  // drop_last: 4 steps of 12, 2 samples skipped this epoch
    }

    @Test("drop_last keeps or drops the short last batch; a short batch still splits over ranks")
    func dropLast() throws {
        let keep = BatchSampler(count: 10, seed: 3, dropLast: false), drop = BatchSampler(count: 10, seed: 3)
        #expect(keep.steps(globalBatch: 6) == 2 && drop.steps(globalBatch: 6) == 1 && drop.steps(globalBatch: 11) == 0)
        let last = try keep.batchIndices(epoch: 0, step: 1, globalBatch: 6)
        #expect(last == Array(keep.order(epoch: 0)[6...]))
        let parts = try (0..<3).map { try keep.batchIndices(epoch: 0, step: 1, globalBatch: 6, rank: $0, worldSize: 3) }
        #expect(parts.map(\.count) == [2, 1, 1] && parts.flatMap { $0 } == last)
        #expect(throws: SSLError.self) { try drop.batchIndices(epoch: 0, step: 1, globalBatch: 6) }
        #expect(throws: SSLError.self) { try drop.batchIndices(epoch: 0, step: 0, globalBatch: 6, rank: 3, worldSize: 3) }
        #expect(throws: SSLError.self) { try drop.batchIndices(epoch: 0, step: 0, globalBatch: 5, rank: 0, worldSize: 2) }
        #expect(throws: SSLError.self) { try drop.batchIndices(epoch: 0, step: 0, globalBatch: 0) }
        let data = try dataLoaderDataset(10)
        #expect(throws: SSLError.self) { _ = try DataLoader(dataset: data, globalBatch: 11, seed: 0) }
        #expect(throws: SSLError.self) { _ = try DataLoader(dataset: data, globalBatch: 4, seed: 0, rank: 0, worldSize: 3) }
    }

    @Test("prefetched batches equal synchronously loaded ones, and are produced off the caller's thread ahead of time")
    func prefetch() throws {
        let data = try dataLoaderDataset(37)
        let loader = try DataLoader(dataset: data, globalBatch: 8, seed: 4, rank: 1, worldSize: 2)
        #expect(loader.stepsPerEpoch == 4)
        let caller = pthread_self()
        let lock = NSLock()
        var produced = 0, offThread = true
        let batches = loader.epoch(5, prefetch: true) { batch -> HostBatch in
            lock.lock()
            produced += 1
            offThread = offThread && pthread_equal(pthread_self(), caller) == 0
            lock.unlock()
            return batch
        }
        var step = 0
        while let batch = try batches.next() {
            #expect(batch == (try loader.batch(epoch: 5, step: step)))
            #expect(batch.shape == [4, 1, 2, 3] && batch.images.count == 24)
            #expect(batch.labels == batch.indices.map { $0 % 4 } && batch.images[0] == Float(batch.indices[0]) / 255)
            // While the caller works on step s, step s + 1 is produced in the background, without
            // another call to next(); polled with a generous deadline for a loaded machine.
            var ahead = 0
            let deadline = Date().addingTimeInterval(5)
            repeat {
                lock.lock()
                ahead = produced
                lock.unlock()
                if ahead >= min(step + 2, 4) { break }
                Thread.sleep(forTimeInterval: 0.001)
            } while Date() < deadline
            #expect(ahead == min(step + 2, 4), "step \(step): \(ahead) produced")
            step += 1
        }
        #expect(step == 4 && offThread)
        let synchronous = loader.epoch(5, prefetch: false)
        var same: [HostBatch] = []
        while let b = try synchronous.next() { same.append(b) }
        #expect(same == (try (0..<4).map { try loader.batch(epoch: 5, step: $0) }))
    }

    @Test("an error in a prefetched step surfaces from next() at that step")
    func prefetchErrors() throws {
        struct Boom: Error {}
        let p = Prefetcher(count: 4) { step -> Int in
            if step == 2 { throw Boom() }
            return step * 10
        }
        #expect(try p.next() == 0)
        #expect(try p.next() == 10)
        #expect(throws: Boom.self) { _ = try p.next() }
        #expect(try p.next() == 30)
        #expect(try p.next() == nil)
    }
}
