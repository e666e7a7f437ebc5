// ssl-mpi-check: runs every Communicator collective on data whose result is known exactly and
// prints "ok rank R …" per rank, or the failure on standard error and a non-zero exit.
//
//   mpirun --allow-run-as-root --oversubscribe -np 2 .build/debug/ssl-mpi-check
//   ssl-mpi-check --abort   # the last rank calls MPI_Abort while the others wait in a barrier
//   ssl-mpi-check --exit    # the last rank exits with status 3 without finalising, same wait
//   ssl-mpi-check --gathered-ntxent   # NT-Xent over gathered embeddings: the weight gradient
//                                     # averaged over ranks equals the single-process one
//   ssl-mpi-check --knn               # kNN over a bank split across ranks equals the whole bank's
//   ssl-mpi-check --custom-objective  # a method defined here, trained by Trainer over the ranks,
//                                     # equals one process (CustomObjectiveCheck.swift)
//
// Without mpirun it checks the one-process world, where every collective is the identity.
import CMPI
import Foundation
import SSLCore
import SSLDistributed
import SSLTrain

/// Σ_r r in float.
func rankSum32(_ p: Int) -> Float { Float(p * (p - 1) / 2) }

/// SimCLR's gathered negatives: z = x·Wᵀ of this rank's rows, NT-Xent on every rank's rows, and
/// the backward through the gather, then the weight gradient averaged over the ranks — against
/// the same computed on the whole batch in this process. A gather whose backward dropped the
/// other ranks' share of the gradient (the known bug) would give a different weight gradient.
func checkGatheredNTXent(_ world: Communicator) throws {
    let backend = ReferenceBackend(), group = DataParallel(world)
    let n = 6 * world.size, d = 5, k = 4   // the global batch: 6 rows per rank
    var rng = SplitMix64(seed: 42)
    let x1 = (0..<(n * d)).map { _ in Float(rng.gaussian()) }, x2 = (0..<(n * d)).map { _ in Float(rng.gaussian()) }

    /// `naive`: the backward keeps only this rank's rows of its own gradient, unscaled — the
    /// gather without the other ranks' share, whose result must differ.
    func weightGradient(rows: Range<Int>, group: DataParallel, naive: Bool = false) throws -> (loss: Float, dW: [Float]) {
        let back = { (dGlobal: Tensor) in
            naive ? try backend.rows(dGlobal, (rows.lowerBound)..<(rows.upperBound)) : try group.gatherBackward(dGlobal, on: backend)
        }
        let layer = try Linear(name: "w", inFeatures: d, outFeatures: k, bias: false, seed: 7, on: backend)
        let slice = { (x: [Float]) in try backend.upload(Array(x[(rows.lowerBound * d)..<(rows.upperBound * d)]),
                                                         shape: [rows.count, d]) }
        let (z1, c1) = try layer.forward(try slice(x1)), (z2, c2) = try layer.forward(try slice(x2))
        let r = try backend.ntXent(try group.gatherRows(z1, on: backend), try group.gatherRows(z2, on: backend),
                                   temperature: 0.5)
        _ = try layer.backward(c1, try back(r.dZ1))
        _ = try layer.backward(c2, try back(r.dZ2))
        try group.averageGradients(layer.parameters, on: backend)
        return (try backend.download(r.loss)[0], try backend.download(layer.weight.gradient))
    }

    let per = n / world.size
    let distributed = try weightGradient(rows: (world.rank * per)..<((world.rank + 1) * per), group: group)
    let single = try weightGradient(rows: 0..<n, group: .local())
    let scale = single.dW.map(abs).max() ?? 1
    let error = zip(distributed.dW, single.dW).map { abs($0 - $1) }.max() ?? 0
    try expect(distributed.loss == single.loss, "NT-Xent loss \(distributed.loss) on \(world.size) ranks vs \(single.loss)")
    // Float sums of two partial gradients against one: a few ulps of the largest entry.
    try expect(error <= 1e-5 * scale, "dW differs by \(error) (max |dW| \(scale)): \(distributed.dW) vs \(single.dW)")
    if world.size > 1 {
        let wrong = try weightGradient(rows: (world.rank * per)..<((world.rank + 1) * per), group: group, naive: true)
        let gap = zip(wrong.dW, single.dW).map { abs($0 - $1) }.max() ?? 0
        try expect(gap > 1e-3 * scale, "the naive gather's gradient should differ, but differs by only \(gap)")
    }
    print("ok rank \(world.rank): gathered NT-Xent weight gradient equals the single-process one (max diff \(error))")
}

/// Weighted kNN with the bank split over the ranks (uneven shares, ties from integer features)
/// against the same classifier on the whole bank in this process: predictions and votes equal.
func checkShardedKNN(_ world: Communicator) throws {
    let backend = ReferenceBackend(), group = DataParallel(world)
    let (n, m, d) = (53, 17, 4)
    var rng = SplitMix64(seed: 9)
    // Small integers: many exactly equal similarities, so the merge's tie rule is exercised.
    let bank = (0..<(n * d)).map { _ in Float(Int(rng.next() % 5) - 2) }
    let labels = (0..<n).map { _ in Int(rng.next() % 4) }
    let test = try FeatureMatrix(values: (0..<(m * d)).map { _ in Float(Int(rng.next() % 5) - 2) }, rows: m, columns: d)
    let share = BatchSampler.slice(Array(0..<n), rank: world.rank, worldSize: world.size)
    let mine = try FeatureMatrix(values: Array(bank[(share.first! * d)..<((share.last! + 1) * d)]), rows: share.count, columns: d)
    for k in [1, 7, 20] {
        let knn = KNNClassifier(k: k, trainChunk: 8)
        let split = try knn.classify(share: mine, at: share.first!, labels: labels, test: test, group: group, on: backend)
        let whole = try knn.classify(train: try FeatureMatrix(values: bank, rows: n, columns: d), labels: labels, test: test,
                                     on: backend)
        try expect(split.predictions == whole.predictions, "k \(k): predictions \(split.predictions) vs \(whole.predictions)")
        try expect(split.votes == whole.votes, "k \(k): votes differ")
    }
    print("ok rank \(world.rank): kNN over a split bank equals the whole bank's")
}

struct CheckFailed: Error, CustomStringConvertible {
    let description: String
}

func expect(_ condition: Bool, _ what: @autoclosure () -> String) throws {
    if !condition { throw CheckFailed(description: what()) }
}

func runChecks(_ world: Communicator) throws {
    let r = world.rank, p = world.size
    let triangle = Float(p * (p + 1) / 2)  // Σ_r (r + 1)

    // Sums and means of small integers are exact in float32, so results compare with ==.
    var floats = (0..<7).map { Float((r + 1) * ($0 + 1)) }
    try world.allReduce(&floats, .sum)
    try expect(floats == (0..<7).map { Float($0 + 1) * triangle }, "allReduce sum [Float]: \(floats)")

    var means = (0..<5).map { Float((r + 1) * ($0 + 1)) }
    try world.allReduce(&means, .mean)
    try expect(means == (0..<5).map { Float($0 + 1) * triangle / Float(p) }, "allReduce mean [Float]: \(means)")

    var doubles = [Double(r) + 0.25, -Double(r)]
    try world.allReduce(&doubles, .sum)
    let rankSum = Double(p * (p - 1) / 2)
    try expect(doubles == [rankSum + 0.25 * Double(p), -rankSum], "allReduce sum [Double]: \(doubles)")

    var empty: [Float] = []
    try world.allReduce(&empty)
    try expect(empty.isEmpty, "allReduce of no values")

    let backend = ReferenceBackend()
    let tensor = try backend.upload((0..<6).map { Float((r + 1) * $0) }, shape: [2, 3])
    try world.allReduce(tensor, on: backend, .sum)
    let reduced = try backend.download(tensor)
    try expect(reduced == (0..<6).map { Float($0) * triangle }, "allReduce tensor: \(reduced)")

    let gathered = try world.allGather((0..<3).map { Float(10 * r + $0) })
    try expect(gathered == (0..<p).flatMap { q in (0..<3).map { Float(10 * q + $0) } }, "allGather: \(gathered)")

    // Uneven: rank q holds 2q values (rank 0 none), 100q + j.
    let counts = (0..<p).map { 2 * $0 }
    let mine = (0..<counts[r]).map { Float(100 * r + $0) }
    let expected = (0..<p).flatMap { q in (0..<counts[q]).map { Float(100 * q + $0) } }
    let uneven = try world.allGather(mine, counts: counts)
    try expect(uneven == expected, "allGather counts: \(uneven)")
    let discovered = try world.allGatherUneven(mine)
    try expect(discovered.values == expected && discovered.counts == counts,
               "allGatherUneven: \(discovered.values) counts \(discovered.counts)")

    // Non-blocking sums: two in flight at once, completed out of order.
    let first = try world.startSum((0..<4).map { Float(r + $0) })
    let second = try world.startSum([Float(r + 1)])
    _ = try first.poll()
    try expect(try second.wait() == [triangle], "startSum (second): expected \(triangle)")
    let firstSum = try first.wait()
    try expect(firstSum == (0..<4).map { Float(p * $0) + rankSum32(p) }, "startSum (first): \(firstSum)")

    let root = p - 1
    var message: [Float] = r == root ? [3.5, -2, 7] : [0, 0, 0]
    try world.broadcast(&message, root: root)
    try expect(message == [3.5, -2, 7], "broadcast from rank \(root): \(message)")

    try world.barrier()

    // Argument errors are caught before MPI, the same way on every rank.
    do {
        try world.broadcast(&message, root: p)
        throw CheckFailed(description: "broadcast to root \(p) did not throw")
    } catch SSLError.invalidArgument {}

    if world.usesMPI {
        // An error MPI itself reports comes back as a code with MPI's text (MPI_ERRORS_RETURN),
        // not as an abort: an invalid root, which MPI's argument checks reject on every rank.
        let code = message.withUnsafeMutableBufferPointer { cmpi_bcast_float($0.baseAddress, 3, 99) }
        try expect(code != 0, "MPI_Bcast to root 99 returned MPI_SUCCESS")
        let error = Communicator.error(call: "MPI_Bcast", code: code)
        try expect(error.description.hasPrefix("MPI_Bcast failed: ") && !error.description.contains("unknown"),
                   "MPI error text: \(error)")
        if r == 0 { print("MPI error seen as: \(error)") }
    }

    try world.finalize()
    do {
        try world.barrier()
        if world.usesMPI { throw CheckFailed(description: "barrier after finalize did not throw") }
    } catch SSLError.invalidArgument {}
}

let mode = CommandLine.arguments.dropFirst().first ?? ""
let world: Communicator
do {
    world = try Communicator.world()
} catch {
    FileHandle.standardError.write(Data("ssl-mpi-check: \(error)\n".utf8))
    exit(1)
}

/// Runs one check on this rank; a failure is reported with the rank and ends the whole job.
func check(_ body: (Communicator) throws -> Void) {
    do {
        try body(world)
    } catch {
        FileHandle.standardError.write(Data("ssl-mpi-check rank \(world.rank): \(error)\n".utf8))
        world.abort(code: 1)
    }
}

switch mode {
case "":
    check {
        try runChecks($0)  // finalizes itself, then checks that collectives are refused
        print("ok rank \($0.rank) of \($0.size) (local rank \($0.localRank), host \($0.hostName))")
    }
case "--gathered-ntxent":
    check { try checkGatheredNTXent($0); try $0.finalize() }
case "--knn":
    check { try checkShardedKNN($0); try $0.finalize() }
case "--custom-objective":
    check { try checkCustomObjective($0); try $0.finalize() }
case "--abort", "--exit":
    if world.rank == world.size - 1 {
        FileHandle.standardError.write(Data("rank \(world.rank): failing on purpose (\(mode))\n".utf8))
        if mode == "--abort" { world.abort(code: 7) }
        exit(3)
    }
    do { try world.barrier() } catch { FileHandle.standardError.write(Data("rank \(world.rank): \(error)\n".utf8)) }
    print("rank \(world.rank) left the barrier: the failing rank did not stop the job")
    exit(0)
default:
    FileHandle.standardError.write(Data("usage: ssl-mpi-check [--abort | --exit | --gathered-ntxent | --knn | --custom-objective]\n".utf8))
    exit(2)
}
