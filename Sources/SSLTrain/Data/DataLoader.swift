// Batches of a data set for one rank, with the next batch prepared on a background thread while
// the caller's device work runs.
import Foundation

/// One rank's batch on the host: its global indices, images in [0, 1] and labels.
public struct HostBatch: Equatable, Sendable {
    /// Where in training this batch belongs.
    public let epoch: Int, step: Int
    /// Global indices into the data set, in batch order.
    public let indices: [Int]
    /// `(B, C, H, W)` row-major, in [0, 1].
    public let images: [Float]
    /// `[B, C, H, W]`.
    public let shape: [Int]
    /// One label per image, or nil for unlabelled data.
    public let labels: [Int]?
}

/// Runs `produce(0)`, `produce(1)`, … `produce(count − 1)` in order, one step ahead of the
/// caller: while the caller works on step s, step s + 1 is produced on a serial background
/// queue. Errors surface from ``next()`` at the step that threw. At most one `produce` runs at
/// a time, so it needs no locking of its own.
public final class Prefetcher<Element> {
    /// The number of steps.
    public let count: Int
    /// Whether steps are produced ahead on the background queue (else inside ``next()``).
    public let prefetches: Bool
    private let produce: (Int) throws -> Element
    private let queue = DispatchQueue(label: "ssl.prefetch")
    private var step = 0
    private var pending: Slot?

    private final class Slot {
        var result: Result<Element, Error>?
        let done = DispatchSemaphore(value: 0)
    }

    /// Starts producing step 0 at once when `prefetch` is true.
    public init(count: Int, prefetch: Bool = true, produce: @escaping (Int) throws -> Element) {
        self.count = max(count, 0)
        self.prefetches = prefetch
        self.produce = produce
        if prefetch && self.count > 0 { pending = schedule(0) }
    }

    deinit { pending?.done.wait() }  // no background work outlives the prefetcher

    private func schedule(_ s: Int) -> Slot {
        let slot = Slot()
        let produce = self.produce
        queue.async {
            slot.result = Result { try produce(s) }
            slot.done.signal()
        }
        return slot
    }

    /// The next step's element, or nil after the last; waits for it if it is still being produced.
    public func next() throws -> Element? {
        guard step < count else { return nil }
        let result: Result<Element, Error>
        if let slot = pending {
            slot.done.wait()
            result = slot.result!
            pending = nil
        } else {
            let s = step
            result = Result { try produce(s) }
        }
        step += 1
        if prefetches && step < count { pending = schedule(step) }
        return try result.get()
    }
}

/// One rank's batches of a data set, epoch by epoch (see ``BatchSampler`` for the order, the
/// rank slices and drop_last).
///
/// ```swift
/// let loader = try DataLoader(dataset: train, globalBatch: 256, seed: 0)
/// let batches = loader.epoch(3)                 // prefetching
/// while let batch = try batches.next() { … }   // batch.images: (256, 1, 28, 28)
/// ```
public final class DataLoader {
    /// The data set batches are drawn from.
    public let dataset: ImageDataset
    /// The epoch order and the slicing of its batches.
    public let sampler: BatchSampler
    /// The batch over all ranks, this rank and the number of ranks; each step yields globalBatch / worldSize samples.
    public let globalBatch: Int, rank: Int, worldSize: Int

    /// - Throws: `SSLError.invalidArgument(op:detail:)` for a batch not divisible by the world
    ///   size, a rank outside it, or a data set with no batch at all (fewer than `globalBatch`
    ///   samples with drop_last).
    public init(dataset: ImageDataset, globalBatch: Int, seed: UInt64, shuffle: Bool = true, dropLast: Bool = true,
                rank: Int = 0, worldSize: Int = 1) throws {
        let sampler = BatchSampler(count: dataset.count, seed: seed, shuffle: shuffle, dropLast: dropLast)
        guard sampler.steps(globalBatch: globalBatch) > 0 else {
            throw SSLError.invalidArgument(op: "DataLoader", detail: "\(dataset.name) has \(dataset.count) samples: no "
                                           + "\(dropLast ? "full " : "")batch of \(globalBatch)")
        }
        _ = try sampler.batchIndices(order: Array(0..<dataset.count), step: 0, globalBatch: globalBatch, rank: rank,
                                     worldSize: worldSize)  // checks the rank and divisibility once
        self.dataset = dataset
        self.sampler = sampler
        self.globalBatch = globalBatch
        self.rank = rank
        self.worldSize = worldSize
    }

    /// Global batches per epoch (drop_last as the sampler says).
    public var stepsPerEpoch: Int { sampler.steps(globalBatch: globalBatch) }

    /// Step `step` of `epoch`, computed now.
    public func batch(epoch: Int, step: Int) throws -> HostBatch {
        try batch(order: sampler.order(epoch: epoch), epoch: epoch, step: step)
    }

    private func batch(order: [Int], epoch: Int, step: Int) throws -> HostBatch {
        let indices = try sampler.batchIndices(order: order, step: step, globalBatch: globalBatch, rank: rank,
                                               worldSize: worldSize)
        return HostBatch(epoch: epoch, step: step, indices: indices, images: try dataset.images(indices),
                         shape: [indices.count, dataset.channels, dataset.height, dataset.width],
                         labels: try dataset.labels(indices))
    }

    /// The batches of `epoch`, each produced one step ahead on a background thread when `prefetch`.
    public func epoch(_ epoch: Int, prefetch: Bool = true) -> Prefetcher<HostBatch> {
        self.epoch(epoch, prefetch: prefetch) { $0 }
    }

    /// The batches of `epoch` passed through `transform` (e.g. drawing the augmentation plan), on
    /// the background thread too.
    public func epoch<T>(_ epoch: Int, prefetch: Bool = true, transform: @escaping (HostBatch) throws -> T) -> Prefetcher<T> {
        let order = sampler.order(epoch: epoch)
        return Prefetcher(count: stepsPerEpoch, prefetch: prefetch) { [self] step in
            try transform(try batch(order: order, epoch: epoch, step: step))
        }
    }
}
