// Batch norm synchronised over data-parallel ranks (SyncBN): the four ops on both backends, the
// layer over simulated ranks against one BatchNorm on the whole batch, and the gradient of the
// group's forward by central differences in Double.
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

// MARK: - Simulated ranks

/// The ranks of one data-parallel group inside one process, for layers that take a ``CrossRankSum``.
///
/// Each rank's work runs on its own thread and the threads take turns: one runs at a time and
/// hands the turn on at every `sum`, so a shared backend never sees two ranks at once and a run
/// is deterministic. The last rank of a round adds the contributions in rank order; every rank
/// leaves that round's `sum` with the same total, as from `MPI_Allreduce`. A rank that throws, or
/// ranks that disagree on the number or length of their sums, fail the run instead of hanging it.
final class SimulatedRanks {
    struct Failure: Error, CustomStringConvertible { let description: String }

    /// One rank's end of the group.
    final class Rank: CrossRankSum {
        let index: Int
        unowned let group: SimulatedRanks
        init(index: Int, group: SimulatedRanks) { (self.index, self.group) = (index, group) }
        func sum(_ values: inout [Double]) throws { values = try group.allReduce(values, from: index) }
    }

    private(set) var ranks: [Rank] = []
    private let condition = NSCondition()
    private var turn = 0, finished: [Bool], rounds: [Int]
    private var pending: [[Double]] = [], totals: [[Double]] = []
    private var failure: Failure?

    init(size: Int) {
        (finished, rounds) = (Array(repeating: false, count: size), Array(repeating: 0, count: size))
        ranks = (0..<size).map { Rank(index: $0, group: self) }
    }

    /// Runs `body` once per rank, each on its own thread, rank 0 first; returns when every rank
    /// has finished and throws the first failure.
    func run(_ body: @escaping (Rank) throws -> Void) throws {
        condition.lock()
        (turn, pending, totals, failure) = (0, [], [], nil)
        (finished, rounds) = (finished.map { _ in false }, rounds.map { _ in 0 })
        condition.unlock()
        for rank in ranks {
            Thread {
                _ = TestBackends.openCL  // under Oclgrind, gives this thread its context (TestBackends.perThread)
                self.execute(rank, body)
            }.start()
        }
        condition.lock()
        defer { condition.unlock() }
        while finished.contains(false) { condition.wait() }
        if let failure { throw failure }
    }

    private func execute(_ rank: Rank, _ body: (Rank) throws -> Void) {
        condition.lock()
        while turn != rank.index && failure == nil { condition.wait() }
        let go = failure == nil
        condition.unlock()
        var error: Error?
        if go {
            do { try body(rank) } catch let e { error = e }
        }
        condition.lock()
        if let error, failure == nil { failure = Failure(description: "rank \(rank.index): \(error)") }
        finished[rank.index] = true
        handOn(from: rank.index)
        condition.unlock()
    }

    /// Gives the turn to the next rank after `rank` that is still running (the lock held).
    private func handOn(from rank: Int) {
        turn = (1...ranks.count).map { (rank + $0) % ranks.count }.first { !finished[$0] } ?? -1
        condition.broadcast()
    }

    fileprivate func allReduce(_ values: [Double], from rank: Int) throws -> [Double] {
        condition.lock()
        defer { condition.unlock() }
        func fail(_ message: String) -> Failure {
            if failure == nil { failure = Failure(description: message) }
            condition.broadcast()
            return failure!
        }
        if let failure { throw failure }
        guard turn == rank else { throw fail("rank \(rank) called sum outside SimulatedRanks.run") }
        let round = rounds[rank]
        rounds[rank] += 1
        if let first = pending.first, first.count != values.count {
            throw fail("rank \(rank) sums \(values.count) values in round \(round), an earlier rank \(first.count)")
        }
        pending.append(values)
        if pending.count == ranks.count {
            totals.append((0..<values.count).map { i in pending.reduce(0) { $0 + $1[i] } })
            pending = []
        }
        handOn(from: rank)
        while failure == nil && !(turn == rank && totals.count > round) {
            if turn == rank { throw fail("rank \(rank) made sum \(round + 1), the other ranks finished with fewer") }
            condition.wait()
        }
        if let failure { throw failure }
        return totals[round]
    }
}

/// Per-rank results written from the ranks' threads (one at a time, under the group's turns).
private final class PerRank<T> {
    var values: [T?]
    init(_ count: Int) { values = Array(repeating: nil, count: count) }
}

/// A group that must not be used (evaluation ignores synchronization).
private final class RefusingSum: CrossRankSum {
    func sum(_ values: inout [Double]) throws { Issue.record("sum called in evaluation") }
}

/// A broken reduction that drops a value.
private final class TruncatingSum: CrossRankSum {
    func sum(_ values: inout [Double]) throws { values.removeLast() }
}

// MARK: - Helpers

/// A BatchNorm1d on `(N, F)` or a BatchNorm2d on `(N, C, H, W)` with the given γ, β and running statistics.
private func makeBatchNorm(_ channelShape: [Int], affine: Bool, gamma: [Float], beta: [Float],
                           running: ([Float], [Float]), on b: any Backend) throws -> BatchNorm {
    let c = channelShape[0]
    let bn: BatchNorm = channelShape.count == 3 ? try BatchNorm2d(name: "bn", channels: c, affine: affine, on: b)
                                                : try BatchNorm1d(name: "bn", features: c, affine: affine, on: b)
    if let g = bn.gamma, let bt = bn.beta {
        try b.upload(gamma, into: g.value)
        try b.upload(beta, into: bt.value)
    }
    try b.upload(running.0, into: bn.running.mean)
    try b.upload(running.1, into: bn.running.variance)
    return bn
}

/// What one training step of a layer produces, downloaded.
private struct StepResult {
    let y: [Float], dX: [Float], running: [[Float]], gradients: [[Float]]
}

/// Forward of x, backward of dY, from zero gradients.
private func step(_ layer: any Layer, _ x: [Float], _ dY: [Float], shape: [Int], on b: any Backend) throws -> StepResult {
    try layer.zeroGradients(on: b)
    let (y, cache) = try layer.forward(try b.upload(x, shape: shape))
    let dX = try layer.backward(cache, try b.upload(dY, shape: y.shape))
    return StepResult(y: try b.download(y), dX: try b.download(dX), running: try layer.buffers.map { try b.download($0.tensor) },
                      gradients: try layer.parameters.map { try b.download($0.gradient) })
}

/// |actual − expected| ≤ tolerance · (|expected| + max(1, max|expected|)).
private func expectScaledClose(_ actual: [Float], _ expected: [Float], tolerance: Double, _ what: String,
                               sourceLocation: SourceLocation = #_sourceLocation) {
    let e = expected.map(Double.init), scale = max(1, e.map(abs).max() ?? 0)
    assertClose(actual, e, shape: [actual.count], expectedShape: [e.count], rtol: tolerance, atol: tolerance * scale, what,
                sourceLocation: sourceLocation)
}

/// Expects an SSLError whose description contains every one of `parts`.
private func expectSyncError(_ parts: [String], on backend: any Backend, sourceLocation: SourceLocation = #_sourceLocation,
                             _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected an error containing \(parts) on \(backend.name)", sourceLocation: sourceLocation)
    } catch let error as SSLError {
        for part in parts where !error.description.contains(part) {
            Issue.record("\(backend.name): '\(error)' does not mention '\(part)'", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("\(backend.name): not an SSLError: \(error)", sourceLocation: sourceLocation)
    }
}

/// Rows `offset..<offset + count` of a row-major tensor whose rows hold `rowSize` values.
private func rows<T>(_ values: [T], _ offset: Int, _ count: Int, rowSize: Int) -> [T] {
    Array(values[(offset * rowSize)..<((offset + count) * rowSize)])
}

/// The start row of each rank's part.
private func offsets(_ rows: [Int]) -> [Int] { rows.indices.map { rows[..<$0].reduce(0, +) } }

// MARK: - Tests

@Suite struct SyncBatchNormTests {
    /// Float32 tensors, one op at a time: the reference's Double arithmetic rounded once against
    /// PoCL's float. Element-wise ops (given-statistics forward and backward) round 2–4 times,
    /// ≤ 3e-7 of the tensor's scale; reductions over M ≤ 1568 values in float stay below
    /// √M · 6e-8 · max|term| ≈ 3e-6 of their scale. 2e-6 and 1e-5 leave a margin only for those.
    static let opShapes: [[Int]] = [[1, 3], [2, 1], [7, 13], [257, 3], [1, 2, 5, 3], [3, 5, 7, 7], [2, 1, 28, 28], [13, 4, 1, 1]]

    @Test("OpenCL moments, given-statistics forward, backward sums and given-sums backward match the reference",
          .enabled(if: TestBackends.hasOpenCL), arguments: Oclgrind.cases(opShapes) { $0.reduce(1, *) })
    func opParity(_ shape: [Int]) throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        let c = shape[1], inner = shape[2...].reduce(1, *), m = shape[0] * inner
        var rng = SeededRandom(seed: UInt64(shape.reduce(3) { $0 * 31 + $1 }))
        // A different offset per channel, so the mean matters.
        let x = rng.uniform(shape.reduce(1, *), scale: 2).enumerated().map { $0.element + 0.5 + Float($0.offset / inner % c) / 4 }
        let dY = rng.uniform(x.count)
        let gamma = rng.uniform(c, scale: 0.5).map { $0 + 1 }, beta = rng.uniform(c, scale: 0.5)
        func both(_ values: [Float], _ shape: [Int]) throws -> (Tensor, Tensor) {
            (try ref.upload(values, shape: shape), try cl.upload(values, shape: shape))
        }
        let xs = try both(x, shape)
        let moments = (try ref.batchNormalizationMoments(xs.0), try cl.batchNormalizationMoments(xs.1))
        #expect(moments.0.count == m && moments.1.count == m)
        expectScaledClose(try cl.download(moments.1.mean), try ref.download(moments.0.mean), tolerance: 1e-5, "mean \(shape)")
        expectScaledClose(try cl.download(moments.1.m2), try ref.download(moments.0.m2), tolerance: 1e-5, "M2 \(shape)")

        // The same statistics, x̂, sums and count on both sides: each op is compared on its own.
        let mean = try ref.download(moments.0.mean)
        let rstd = try ref.download(moments.0.m2).map { Float(1 / (Double($0) / Double(m) + 1e-5).squareRoot()) }
        let stats = (try both(mean, [c]), try both(rstd, [c]))
        let dYs = try both(dY, shape)
        for affine in [true, false] {
            let g = affine ? try both(gamma, [c]) : nil, bt = affine ? try both(beta, [c]) : nil
            let f = (try ref.batchNormalization(xs.0, gamma: g?.0, beta: bt?.0, mean: stats.0.0, rstd: stats.1.0),
                     try cl.batchNormalization(xs.1, gamma: g?.1, beta: bt?.1, mean: stats.0.1, rstd: stats.1.1))
            expectScaledClose(try cl.download(f.1.y), try ref.download(f.0.y), tolerance: 2e-6, "y \(shape) affine \(affine)")
            expectScaledClose(try cl.download(f.1.normalized), try ref.download(f.0.normalized), tolerance: 2e-6, "x̂ \(shape)")
            #expect(try cl.download(f.1.rstd) == rstd)

            let xhat = try both(try ref.download(f.0.normalized), shape)
            let s = (try ref.batchNormalizationBackwardSums(dYs.0, normalized: xhat.0),
                     try cl.batchNormalizationBackwardSums(dYs.1, normalized: xhat.1))
            expectScaledClose(try cl.download(s.1.dY), try ref.download(s.0.dY), tolerance: 1e-5, "Σ dy \(shape)")
            expectScaledClose(try cl.download(s.1.dYNormalized), try ref.download(s.0.dYNormalized), tolerance: 1e-5,
                              "Σ dy·x̂ \(shape)")

            // As if two more ranks held as many values: count 3M and sums of another size.
            let sums = (try both(try ref.download(s.0.dY).map { $0 * 3 + 0.5 }, [c]),
                        try both(try ref.download(s.0.dYNormalized).map { $0 * 2 - 0.25 }, [c]))
            let dX = (try ref.batchNormalizationBackward(dYs.0, normalized: xhat.0, rstd: stats.1.0, gamma: g?.0,
                                                         sums: BatchNormalizationSums(dY: sums.0.0, dYNormalized: sums.1.0),
                                                         count: 3 * m),
                      try cl.batchNormalizationBackward(dYs.1, normalized: xhat.1, rstd: stats.1.1, gamma: g?.1,
                                                        sums: BatchNormalizationSums(dY: sums.0.1, dYNormalized: sums.1.1),
                                                        count: 3 * m))
            expectScaledClose(try cl.download(dX.1), try ref.download(dX.0), tolerance: 2e-6, "dX \(shape) affine \(affine)")
        }
    }

    @Test("the ops refuse bad shapes and counts with the same errors on every backend")
    func opErrors() throws {
        try forEachBackend { b in
            let x = try b.zeros([4, 3, 1, 1]), c3 = try b.zeros([3]), c2 = try b.zeros([2])
            expectSyncError(["rank ≥ 2", "(3,)"], on: b) { _ = try b.batchNormalizationMoments(c3) }
            expectSyncError(["mean", "(2,)", "3 channels"], on: b) { _ = try b.batchNormalization(x, gamma: nil, beta: nil, mean: c2, rstd: c3) }
            expectSyncError(["rstd", "(2,)"], on: b) { _ = try b.batchNormalization(x, gamma: nil, beta: nil, mean: c3, rstd: c2) }
            expectSyncError(["gamma and beta"], on: b) { _ = try b.batchNormalization(x, gamma: c3, beta: nil, mean: c3, rstd: c3) }
            expectSyncError(["dY", "normalized"], on: b) { _ = try b.batchNormalizationBackwardSums(x, normalized: try b.zeros([4, 3])) }
            let sums = BatchNormalizationSums(dY: c3, dYNormalized: c3)
            expectSyncError(["count 3", "4 values per channel", "(4, 3, 1, 1)"], on: b) {
                _ = try b.batchNormalizationBackward(x, normalized: x, rstd: c3, gamma: nil, sums: sums, count: 3)
            }
            expectSyncError(["sum of dY·normalized", "(2,)"], on: b) {
                _ = try b.batchNormalizationBackward(x, normalized: x, rstd: c3, gamma: nil,
                                                     sums: BatchNormalizationSums(dY: c3, dYNormalized: c2), count: 8)
            }
        }
    }

    /// (rows per rank, the channel shape (C) or (C, H, W), affine). One rank alone, N = 1 per
    /// rank, uneven parts over three ranks, planes of 1×1 and 7×7.
    static let splits: [([Int], [Int], Bool)] = [
        ([1, 1], [3], true), ([7, 7], [13], true), ([2, 2], [5], false), ([1, 2, 4], [6], true), ([5], [4], true),
        ([3, 3], [5, 7, 7], true), ([1, 1], [2, 3, 3], true), ([2, 3], [4, 1, 1], false),
    ]

    /// The reference rounds each rank's moments and sums to float before the Double merge, and
    /// the global mean and rstd once more: a few roundings of 6e-8, so 1e-6 of each tensor's
    /// scale. PoCL sums in float in another grouping than the whole batch's kernel: reductions
    /// over M ≤ 294 values, ≲ 1e-6 of the scale; 1e-5 bounds that with margin.
    @Test("BatchNorm over simulated ranks equals one BatchNorm on the whole batch: y, dX, running statistics, dγ, dβ",
          arguments: splits)
    func equivalence(_ s: ([Int], [Int], Bool)) throws {
        let (parts, channelShape, affine) = s
        let c = channelShape[0], rowSize = channelShape.reduce(1, *), n = parts.reduce(0, +)
        var rng = SeededRandom(seed: UInt64(parts.reduce(rowSize) { $0 * 17 + $1 }))
        let x = rng.uniform(n * rowSize, scale: 2).map { $0 + 0.5 }, dY = rng.uniform(n * rowSize)
        let gamma = rng.uniform(c, scale: 0.5).map { $0 + 1 }, beta = rng.uniform(c, scale: 0.5)
        let running = (rng.uniform(c, scale: 0.2), rng.uniform(c, scale: 0.4).map { $0 + 1 })
        try forEachBackend { b in
            let tolerance = b.kind == .reference ? 1e-6 : 1e-5
            let whole = try step(try makeBatchNorm(channelShape, affine: affine, gamma: gamma, beta: beta, running: running, on: b),
                                 x, dY, shape: [n] + channelShape, on: b)
            let group = SimulatedRanks(size: parts.count)
            let layers = try group.ranks.map { rank in
                let bn = try makeBatchNorm(channelShape, affine: affine, gamma: gamma, beta: beta, running: running, on: b)
                bn.synchronization = rank
                return bn
            }
            let results = PerRank<StepResult>(parts.count), starts = offsets(parts)
            try group.run { rank in
                let r = rank.index
                results.values[r] = try step(layers[r], rows(x, starts[r], parts[r], rowSize: rowSize),
                                             rows(dY, starts[r], parts[r], rowSize: rowSize),
                                             shape: [parts[r]] + channelShape, on: b)
            }
            let ranks = results.values.map { $0! }, what = "\(s) on \(b.name)"
            expectScaledClose(ranks.flatMap(\.y), whole.y, tolerance: tolerance, "y \(what)")
            expectScaledClose(ranks.flatMap(\.dX), whole.dX, tolerance: tolerance, "dX \(what)")
            for (i, name) in ["running mean", "running variance"].enumerated() {
                expectScaledClose(ranks[0].running[i], whole.running[i], tolerance: tolerance, "\(name) \(what)")
                // Every rank computed them from the same totals: identical, or checkpoints would differ by rank.
                #expect(ranks.allSatisfy { $0.running[i] == ranks[0].running[i] }, "\(name) differs between ranks, \(what)")
            }
            // The trainer's all-reduce of parameter gradients, done here by adding the ranks' local dγ and dβ.
            for (i, expected) in whole.gradients.enumerated() {
                let summed = (0..<expected.count).map { j in Float(ranks.reduce(0.0) { $0 + Double($1.gradients[i][j]) }) }
                expectScaledClose(summed, expected, tolerance: tolerance, "\(i == 0 ? "dγ" : "dβ") summed over ranks, \(what)")
            }
        }
    }

    /// Several sums per pass (two batch norms), interleaved with Linear layers whose weight
    /// gradients also sum over the ranks to the whole batch's. Tolerances as in `equivalence`.
    @Test("a model with two synchronised batch norms over two ranks equals the model on the whole batch")
    func model() throws {
        let parts = [3, 4], n = 7, features = 5
        var rng = SeededRandom(seed: 808)
        let x = rng.uniform(n * features, scale: 1.5), dY = rng.uniform(n * 2)
        try forEachBackend { b in
            func makeModel() throws -> Sequential {
                Sequential([try Linear(name: "fc1", inFeatures: features, outFeatures: 4, seed: 5, on: b),
                            try BatchNorm1d(name: "bn1", features: 4, on: b), ReLU(on: b),
                            try Linear(name: "fc2", inFeatures: 4, outFeatures: 2, seed: 5, on: b),
                            try BatchNorm1d(name: "bn2", features: 2, affine: false, on: b)])
            }
            let tolerance = b.kind == .reference ? 1e-6 : 1e-5
            let whole = try step(try makeModel(), x, dY, shape: [n, features], on: b)
            let group = SimulatedRanks(size: 2)
            let models = try group.ranks.map { rank in
                let model = try makeModel()
                for case let bn as BatchNorm in model.layers { bn.synchronization = rank }
                return model
            }
            let results = PerRank<StepResult>(2), starts = offsets(parts)
            try group.run { rank in
                let r = rank.index
                results.values[r] = try step(models[r], rows(x, starts[r], parts[r], rowSize: features),
                                             rows(dY, starts[r], parts[r], rowSize: 2), shape: [parts[r], features], on: b)
            }
            let ranks = results.values.map { $0! }
            expectScaledClose(ranks.flatMap(\.y), whole.y, tolerance: tolerance, "y on \(b.name)")
            expectScaledClose(ranks.flatMap(\.dX), whole.dX, tolerance: tolerance, "dX on \(b.name)")
            // fc2.bias feeds a batch norm: its gradient is 0 up to the rounding of sums of dX
            // entries, so every gradient is compared at the scale of the largest one.
            let scale = max(1, whole.gradients.joined().map { abs(Double($0)) }.max() ?? 0)
            for (i, p) in models[0].parameters.enumerated() {
                let summed = (0..<whole.gradients[i].count).map { j in Float(ranks.reduce(0.0) { $0 + Double($1.gradients[i][j]) }) }
                assertClose(summed, whole.gradients[i].map(Double.init), shape: p.shape, expectedShape: p.shape,
                            rtol: tolerance, atol: tolerance * scale, "\(p.name) gradient on \(b.name)")
            }
            for (i, buffer) in models[0].buffers.enumerated() {
                expectScaledClose(ranks[1].running[i], whole.running[i], tolerance: tolerance, "\(buffer.name) on \(b.name)")
            }
        }
    }

    @Test("synchronization nil is the local batch norm, bit for bit; evaluation never calls the group")
    func localAndEvaluation() throws {
        var rng = SeededRandom(seed: 99)
        let x = rng.uniform(6 * 4 * 3, scale: 2), dY = rng.uniform(6 * 4 * 3)
        let gamma = rng.uniform(4, scale: 0.5).map { $0 + 1 }, beta = rng.uniform(4, scale: 0.5)
        let running = (rng.uniform(4, scale: 0.2), rng.uniform(4, scale: 0.4).map { $0 + 1 })
        try forEachBackend { b in
            // Local: the layer is exactly today's op pair.
            let bn = try makeBatchNorm([4, 1, 3], affine: true, gamma: gamma, beta: beta, running: running, on: b)
            let layer = try step(bn, x, dY, shape: [6, 4, 1, 3], on: b)
            let stats = RunningStatistics(mean: try b.upload(running.0, shape: [4]), variance: try b.upload(running.1, shape: [4]))
            let g = try b.upload(gamma, shape: [4]), bt = try b.upload(beta, shape: [4])
            let dGamma = try b.zeros([4]), dBeta = try b.zeros([4])
            let r = try b.batchNormalization(try b.upload(x, shape: [6, 4, 1, 3]), gamma: g, beta: bt, running: stats,
                                             training: true, momentum: BatchNormDefaults.momentum, eps: BatchNormDefaults.eps)
            let dX = try b.batchNormalizationBackward(try b.upload(dY, shape: [6, 4, 1, 3]), normalized: r.normalized, rstd: r.rstd,
                                                      gamma: g, training: true, dGamma: dGamma, dBeta: dBeta)
            let op = StepResult(y: try b.download(r.y), dX: try b.download(dX),
                                running: [try b.download(stats.mean), try b.download(stats.variance)],
                                gradients: [try b.download(dGamma), try b.download(dBeta)])
            #expect(layer.y == op.y && layer.dX == op.dX && layer.running == op.running && layer.gradients == op.gradients,
                    "\(b.name)")

            // Evaluation: the running statistics, with or without a group.
            let local = try makeBatchNorm([4, 1, 3], affine: true, gamma: gamma, beta: beta, running: running, on: b)
            let synced = try makeBatchNorm([4, 1, 3], affine: true, gamma: gamma, beta: beta, running: running, on: b)
            synced.synchronization = RefusingSum()
            local.setTraining(false)
            synced.setTraining(false)
            let e = (try step(local, x, dY, shape: [6, 4, 1, 3], on: b), try step(synced, x, dY, shape: [6, 4, 1, 3], on: b))
            #expect(e.0.y == e.1.y && e.0.dX == e.1.dX && e.0.running == e.1.running && e.0.gradients == e.1.gradients)
        }
    }

    @Test("one value per channel over the whole group, or a broken sum, is an error naming the layer")
    func groupErrors() throws {
        let b = TestBackends.reference
        let bn = try BatchNorm1d(name: "head.bn", features: 3, on: b)
        let alone = SimulatedRanks(size: 1)
        bn.synchronization = alone.ranks[0]
        let error = #expect(throws: SimulatedRanks.Failure.self) {
            try alone.run { _ in _ = try bn.forward(try b.zeros([1, 3])) }
        }
        #expect(error?.description.contains("head.bn") == true && error?.description.contains("more than 1 value") == true,
                "\(String(describing: error))")
        bn.synchronization = TruncatingSum()
        expectSyncError(["head.bn", "cross-rank sum returned 6 values"], on: b) { _ = try bn.forward(try b.zeros([2, 3])) }
    }

    /// Both sides in Double (M2 about a Double mean): the merge loses about (mean/σ)² · 2⁻⁵³ ≈ 1e-10
    /// of σ² at a mean of 1000σ, where float's Σx² − M·mean² would lose everything.
    @Test("merging the ranks' moments is exact far from zero: mean 1000, σ about 0.6")
    func mergeFarFromZero() throws {
        var rng = SeededRandom(seed: 4)
        let parts = [5, 1, 9], c = 2, n = parts.reduce(0, +)
        let x = rng.doubles(n * c).map { $0 + 1000 }
        var sums = [Double](repeating: 0, count: 2 * c + 1)
        for (start, count) in zip(offsets(parts), parts) {
            let m = LayerReference.batchNormMoments(rows(x, start, count, rowSize: c), n: count, c: c, inner: 1)
            for (i, v) in GroupMoments.summands(count: count, mean: m.mean, m2: m.m2).enumerated() { sums[i] += v }
        }
        let merged = try GroupMoments(sums: sums, channels: c, localCount: 1, op: "test")
        let all = LayerReference.batchNormMoments(x, n: n, c: c, inner: 1)
        #expect(merged.count == n)
        for ch in 0..<c {
            #expect(abs(merged.mean[ch] - all.mean[ch]) <= 1e-12 * all.mean[ch])
            let variance = all.m2[ch] / Double(n)
            #expect(abs(merged.variance[ch] - variance) <= 1e-9 * variance, "\(merged.variance[ch]) vs \(variance)")
        }
    }

    /// (rows per rank, C, inner): N = 1 on a rank, three ranks, planes.
    static let gradientSplits: [([Int], Int, Int)] = [([1, 2], 3, 1), ([2, 1, 1], 2, 6), ([3, 3], 2, 4)]

    /// The group's forward (moments per rank → merged → given-statistics forward per rank) and
    /// its backward (sums per rank → summed → given-sums backward per rank), in Double.
    @Test("the group's dX, dγ and dβ agree with central differences of its forward", arguments: gradientSplits)
    func gradient(_ s: ([Int], Int, Int)) throws {
        let (parts, c, inner) = s
        let rowSize = c * inner, n = parts.reduce(0, +), starts = offsets(parts), eps = 1e-5
        var rng = SeededRandom(seed: UInt64(n * 100 + rowSize))
        let x = rng.doubles(n * rowSize, scale: 2).map { $0 + 0.5 }, w = rng.doubles(n * rowSize)
        let gamma = rng.doubles(c, scale: 0.5).map { $0 + 1 }, beta = rng.doubles(c, scale: 0.5)
        func part<T>(_ v: [T], _ r: Int) -> [T] { rows(v, starts[r], parts[r], rowSize: rowSize) }

        func forward(_ x: [Double], _ gamma: [Double], _ beta: [Double]) -> (y: [[Double]], xhat: [[Double]], rstd: [Double], count: Int) {
            var sums = [Double](repeating: 0, count: 2 * c + 1)
            for r in parts.indices {
                let m = LayerReference.batchNormMoments(part(x, r), n: parts[r], c: c, inner: inner)
                for (i, v) in GroupMoments.summands(count: parts[r] * inner, mean: m.mean, m2: m.m2).enumerated() { sums[i] += v }
            }
            let g = try! GroupMoments(sums: sums, channels: c, localCount: 1, op: "test")
            let rstd = g.variance.map { 1 / ($0 + eps).squareRoot() }
            let outs = parts.indices.map {
                LayerReference.batchNorm(part(x, $0), n: parts[$0], c: c, inner: inner, gamma: gamma, beta: beta, mean: g.mean, rstd: rstd)
            }
            return (outs.map(\.y), outs.map(\.normalized), rstd, g.count)
        }

        let f = forward(x, gamma, beta)
        var total = (dY: [Double](repeating: 0, count: c), dYNormalized: [Double](repeating: 0, count: c))
        for r in parts.indices {
            let local = LayerReference.batchNormBackwardSums(part(w, r), normalized: f.xhat[r], n: parts[r], c: c, inner: inner)
            for ch in 0..<c {
                total.dY[ch] += local.dY[ch]
                total.dYNormalized[ch] += local.dYNormalized[ch]
            }
        }
        let dX = parts.indices.flatMap {
            LayerReference.batchNormBackward(part(w, $0), normalized: f.xhat[$0], rstd: f.rstd, gamma: gamma, sums: total,
                                             count: f.count, n: parts[$0], c: c, inner: inner)
        }
        checkGradient("dX \(s)", at: x, analytic: dX) { dot(w, forward($0, gamma, beta).y.flatMap { $0 }) }
        checkGradient("dγ \(s)", at: gamma, analytic: total.dYNormalized) { dot(w, forward(x, $0, beta).y.flatMap { $0 }) }
        checkGradient("dβ \(s)", at: beta, analytic: total.dY) { dot(w, forward(x, gamma, $0).y.flatMap { $0 }) }
    }
}
