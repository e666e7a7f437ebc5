// Which samples make up each batch: an epoch order that is a pure function of (seed, epoch), cut
// into global batches, each cut into R contiguous rank slices.

/// The epoch order and the batches of a data set of `count` samples.
///
/// The order of epoch e is a Fisher–Yates shuffle whose draws come from
/// `CounterRandom(seed:, epoch: e, index: -1)` (the identity when `shuffle` is false), so any
/// process computes the same order from (seed, epoch) alone, as `DistributedSampler` does with
/// `set_epoch`. Step s's global batch is positions `s·G ..< (s + 1)·G` of the order; rank r of R
/// gets a contiguous slice of it (``slice(_:rank:worldSize:)``), so the R slices partition it.
///
/// **drop_last**, as in `torch.utils.data.DataLoader`: with `dropLast` (the default, as SimCLR,
/// BYOL and the other joint-embedding recipes use, because batch statistics and negatives need
/// full batches) an epoch has ⌊count / G⌋ steps and the last `count mod G` samples of the order
/// are skipped that epoch; without it, ⌈count / G⌉ steps, the last one smaller than G.
///
/// ```swift
/// let sampler = BatchSampler(count: 60_000, seed: 7)
/// let mine = try sampler.batchIndices(epoch: 3, step: 10, globalBatch: 256, rank: 1, worldSize: 4)  // 64 indices
/// ```
public struct BatchSampler: Equatable, Sendable {
    /// The data set's size.
    public let count: Int
    /// The run's seed, shared by every rank.
    public let seed: UInt64
    /// Whether epochs are shuffled (training) or in index order (evaluation).
    public let shuffle: Bool
    /// Whether the short last batch of an epoch is skipped (see drop_last above).
    public let dropLast: Bool

    /// A sampler over `count` samples; shuffled with drop_last by default, as SSL training needs.
    public init(count: Int, seed: UInt64, shuffle: Bool = true, dropLast: Bool = true) {
        self.count = count
        self.seed = seed
        self.shuffle = shuffle
        self.dropLast = dropLast
    }

    /// A permutation of 0..<count that depends only on (seed, epoch).
    public static func permutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var order = Array(0..<max(count, 0))
        let random = CounterRandom(seed: seed, epoch: epoch, index: -1)
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, random.below(i + 1, UInt64(i)))
        }
        return order
    }

    /// The sample order of `epoch`.
    public func order(epoch: Int) -> [Int] {
        shuffle ? Self.permutation(count: count, seed: seed, epoch: epoch) : Array(0..<count)
    }

    /// The number of global batches per epoch (see drop_last above).
    public func steps(globalBatch: Int) -> Int {
        guard globalBatch > 0 else { return 0 }
        return dropLast ? count / globalBatch : (count + globalBatch - 1) / globalBatch
    }

    /// The global indices rank `rank` of `worldSize` trains on at `step` of `epoch`.
    /// - Throws: `SSLError.invalidArgument(op:detail:)` for a non-positive batch, a rank outside
    ///   0..<worldSize, a global batch not divisible by the world size, or a step outside the epoch.
    public func batchIndices(epoch: Int, step: Int, globalBatch: Int, rank: Int = 0, worldSize: Int = 1) throws -> [Int] {
        try batchIndices(order: order(epoch: epoch), step: step, globalBatch: globalBatch, rank: rank, worldSize: worldSize)
    }

    /// As ``batchIndices(epoch:step:globalBatch:rank:worldSize:)`` with the epoch's order already
    /// computed (a loader computes it once per epoch).
    public func batchIndices(order: [Int], step: Int, globalBatch: Int, rank: Int, worldSize: Int) throws -> [Int] {
        func fail(_ detail: String) -> SSLError { .invalidArgument(op: "BatchSampler", detail: detail) }
        guard order.count == count else { throw fail("an order of \(order.count) samples for a data set of \(count)") }
        guard globalBatch > 0, worldSize > 0 else {
            throw fail("global batch \(globalBatch) and world size \(worldSize) must be positive")
        }
        guard rank >= 0, rank < worldSize else { throw fail("rank \(rank) is outside 0..<\(worldSize)") }
        guard globalBatch % worldSize == 0 else {
            throw fail("global batch \(globalBatch) is not divisible by the world size \(worldSize)")
        }
        let steps = steps(globalBatch: globalBatch)
        guard step >= 0, step < steps else {
            throw fail("step \(step) is outside the epoch's 0..<\(steps) steps (\(count) samples, batch \(globalBatch), drop_last \(dropLast))")
        }
        let global = Array(order[(step * globalBatch)..<min((step + 1) * globalBatch, count)])
        return Self.slice(global, rank: rank, worldSize: worldSize)
    }

    /// Rank `rank`'s contiguous part of a global batch: sizes differ by at most one (the first
    /// `count mod R` ranks get one more), which only happens in a short last batch.
    public static func slice(_ global: [Int], rank: Int, worldSize: Int) -> [Int] {
        let base = global.count / worldSize, extra = global.count % worldSize
        let start = rank * base + min(rank, extra)
        return Array(global[start..<(start + base + (rank < extra ? 1 : 0))])
    }
}
