// Data-parallel training: what a trainer and its objective exchange with the other ranks.
// With one process (no mpirun) every operation here returns its input untouched, so a
// single-process run is bit for bit the run it was before data parallelism existed.
import Foundation
import SSLCore
import SSLDistributed

/// The data-parallel group a trainer runs in, over a `Communicator`.
///
/// The global batch is the unit: rank r of R trains on rows `r·n ..< (r+1)·n` of every global
/// batch of R·n samples (``BatchSampler``), and the losses, gradients and method state come out as
/// one process would compute them on the whole batch:
///
/// - **Gradients** are averaged over the ranks (``averageGradients(_:skipping:on:)``), as
///   PyTorch's DistributedDataParallel does, so a loss that is a mean over samples is computed on
///   the local rows only.
/// - **Losses that couple the samples** (NT-Xent's negatives, Barlow Twins' and VICReg's batch
///   statistics, SwAV's Sinkhorn codes, the memory bank's normaliser) see every rank's rows
///   through ``gatherRows(_:purpose:on:)``; each rank then evaluates the global loss, identical on every
///   rank, and ``gatherBackward(_:on:)`` returns the gradient of its own rows — scaled by R,
///   because the gradient average divides by R again. This is what the official code's
///   `FullGatherLayer`/`GatherLayer` computes (its backward all-reduces R identical copies of the
///   gathered gradient and keeps the local rows), without the all-reduce of identical values.
/// - **Batch norm** is synchronised (``CrossRankSum``): statistics over the global batch.
public final class DataParallel: CrossRankSum {
    public let communicator: Communicator
    public var rank: Int { communicator.rank }
    public var size: Int { communicator.size }
    /// Gradient buckets: the first at least this many bytes, later ones ``bucketBytes``
    /// (DistributedDataParallel's 1 MB first bucket and 25 MB buckets).
    public var firstBucketBytes = 1 << 20, bucketBytes = 25 << 20

    /// Seconds this rank has waited for collectives to complete (not counting device downloads).
    public private(set) var waitSeconds: Double = 0
    /// Bytes this rank has put into collectives since ``takeTraffic()``, by purpose.
    private var traffic: [String: Int] = [:]

    public init(_ communicator: Communicator) { self.communicator = communicator }

    /// The group of this process alone, with no MPI.
    public static func local() -> DataParallel { DataParallel(.local()) }

    /// The bytes put into collectives since the last call, by purpose; resets the count.
    public func takeTraffic() -> [String: Int] {
        defer { traffic = [:] }
        return traffic
    }

    private func count(_ purpose: String, floats: Int) { traffic[purpose, default: 0] += 4 * floats }

    private func timed<T>(_ body: () throws -> T) rethrows -> T {
        let start = Date()
        defer { waitSeconds += Date().timeIntervalSince(start) }
        return try body()
    }

    // MARK: - Rows of the global batch

    /// Every rank's `x` `(n, …)` concatenated in rank order: `(R·n, …)`. Every rank must pass the
    /// same shape. With one process, `x` itself.
    public func gatherRows(_ x: Tensor, purpose: String = "embeddings", on backend: any Backend) throws -> Tensor {
        guard size > 1 else { return x }
        let values = try backend.download(x)
        count(purpose, floats: values.count)
        let all = try timed { try communicator.allGather(values) }
        return try backend.upload(all, shape: [x.shape[0] * size] + x.shape.dropFirst())
    }

    /// The backward of ``gatherRows(_:purpose:on:)`` for a loss every rank evaluated on the same
    /// gathered rows: this rank's rows of `dGlobal`, times R (see the type's documentation).
    public func gatherBackward(_ dGlobal: Tensor, on backend: any Backend) throws -> Tensor {
        guard size > 1 else { return dGlobal }
        let n = dGlobal.shape[0] / size
        let mine = try backend.rows(dGlobal, (rank * n)..<((rank + 1) * n))
        let scaled = try backend.zeros(mine.shape)
        try backend.axpby(mine, alpha: Float(size), beta: 0, into: scaled)
        return scaled
    }

    /// Every rank's `values` (the same count on every rank) concatenated in rank order.
    public func gatherFloats(_ values: [Float], purpose: String) throws -> [Float] {
        guard size > 1 else { return values }
        count(purpose, floats: values.count)
        return try timed { try communicator.allGather(values) }
    }

    /// Every rank's `values` concatenated in rank order, when ranks hold different counts.
    public func gatherUneven(_ values: [Float], purpose: String) throws -> [Float] {
        guard size > 1 else { return values }
        count(purpose, floats: values.count)
        return try timed { try communicator.allGatherUneven(values) }.values
    }

    /// Every rank's integers concatenated in rank order (sample indices, exact below 2²⁴).
    public func gatherIndices(_ indices: [Int]) throws -> [Int] {
        guard size > 1 else { return indices }
        count("indices", floats: indices.count)
        return try timed { try communicator.allGather(indices.map(Float.init)) }.map { Int($0) }
    }

    // MARK: - Reductions

    /// `tensor` replaced in place by its mean over the ranks (state every rank updates from its
    /// own rows by the same linear rule, such as DINO's centre).
    public func averageInPlace(_ tensor: Tensor, purpose: String, on backend: any Backend) throws {
        guard size > 1 else { return }
        count(purpose, floats: tensor.count)
        let start = Date()
        try communicator.allReduce(tensor, on: backend, .mean)
        waitSeconds += Date().timeIntervalSince(start)
    }

    /// The mean over ranks of a per-rank value (the logged loss).
    public func mean(_ value: Double, purpose: String = "loss") throws -> Double {
        guard size > 1 else { return value }
        var values = [value]
        traffic[purpose, default: 0] += 8
        try timed { try communicator.allReduce(&values, .mean) }
        return values[0]
    }

    /// Element-wise sums over ranks in Double: synchronised batch-norm statistics (``CrossRankSum``).
    public func sum(_ values: inout [Double]) throws {
        guard size > 1 else { return }
        traffic["batch norm", default: 0] += 8 * values.count
        try timed { try communicator.allReduce(&values, .sum) }
    }

    /// Averages every parameter's gradient over the ranks, in buckets of whole parameters taken
    /// in reverse order, the order the backward pass finishes them.
    ///
    /// The device runs the backward asynchronously: downloading the first bucket waits only for
    /// the kernels that wrote it, its sum starts at once (`MPI_Iallreduce`), and the next bucket's
    /// download proceeds while that sum is on the wire; the uploads follow the last wait. Only
    /// the waits count as communication time (``waitSeconds``).
    public func averageGradients(_ parameters: [Parameter], skipping frozen: Set<String> = [],
                                 on backend: any Backend) throws {
        guard size > 1 else { return }
        var buckets: [[Parameter]] = [[]], bytes = 0
        for p in parameters.reversed() where !frozen.contains(p.name) {
            buckets[buckets.count - 1].append(p)
            bytes += 4 * p.value.count
            if bytes >= (buckets.count == 1 ? firstBucketBytes : bucketBytes) { buckets.append([]); bytes = 0 }
        }
        var pending: [(bucket: [Parameter], sum: PendingSum)] = []
        for bucket in buckets where !bucket.isEmpty {
            var values: [Float] = []
            for p in bucket { values += try backend.download(p.gradient) }
            count("gradients", floats: values.count)
            pending.append((bucket, try communicator.startSum(values)))
            for p in pending { _ = try p.sum.poll() }
        }
        let scale = 1 / Float(size)
        for (bucket, sum) in pending {
            let total = try timed { try sum.wait() }
            var offset = 0
            for p in bucket {
                let n = p.gradient.count
                try backend.upload(total[offset..<(offset + n)].map { $0 * scale }, into: p.gradient)
                offset += n
            }
        }
    }

    // MARK: - Agreement

    /// Throws unless every rank passes the same `text` (the run's configuration): ranks started
    /// with different flags would train different models and deadlock or diverge.
    public func requireSame(_ text: String, what: String) throws {
        guard size > 1 else { return }
        // FNV-1a 64, sent as four exact 16-bit pieces.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let mine = (0..<4).map { Float((hash >> (16 * UInt64($0))) & 0xffff) }
        let all = try timed { try communicator.allGather(mine) }
        let differing = (0..<size).filter { Array(all[(4 * $0)..<(4 * $0 + 4)]) != Array(all[0..<4]) }
        guard differing.isEmpty else {
            let ranks = differing.count == 1 ? "rank \(differing[0]) was" : "ranks \(differing.map(String.init).joined(separator: ", ")) were"
            throw SSLError.invalidArgument(op: "train", detail: "\(ranks) started with a different \(what) than rank 0; "
                                           + "every rank must run the same command")
        }
    }
}
