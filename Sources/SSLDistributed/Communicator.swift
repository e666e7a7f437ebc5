// The data-parallel communicator: MPI_COMM_WORLD over Open MPI under mpirun, or one process
// without MPI at all. libmpi is loaded at run time (Sources/CMPI), only for a world of size > 1.
import CMPI
import Foundation
import SSLCore

/// The processes of one data-parallel job and the collectives between them.
///
/// Launch a job with Open MPI's `mpirun`; each process calls ``world()`` once and gets its
/// ``rank`` among ``size`` processes:
///
/// ```sh
/// mpirun -np 2 .build/release/my-trainer        # as root add --allow-run-as-root
/// ```
///
/// ```swift
/// let world = try Communicator.world()
/// var gradient: [Float] = …
/// try world.allReduce(&gradient, .mean)            // the same averaged values on every rank
/// try world.finalize()                             // at the end of a successful run
/// ```
///
/// Without `mpirun` (no `OMPI_COMM_WORLD_SIZE`, or a size of 1) the world has one process, every
/// collective is the identity and no MPI library is loaded or needed. With more processes,
/// libmpi is opened with `dlopen("libmpi.so.40")` (or the path in `SSL_MPI_LIBRARY`), MPI is
/// initialised with `MPI_THREAD_SERIALIZED`, and errors come back as `SSLError.mpi(call:message:)`
/// carrying MPI's error string (the world communicator uses `MPI_ERRORS_RETURN`).
///
/// Collectives must be called by every rank in the same order with matching counts, as in MPI.
/// Calls from several threads are serialised by a lock. A rank that fails should exit with a
/// non-zero status (or call ``abort(code:)``): `mpirun` then ends the other ranks instead of
/// leaving them waiting in a collective.
public final class Communicator: @unchecked Sendable {
    /// How the `allReduce` calls combine the ranks' values.
    public enum Reduction: Sendable {
        /// Element-wise sum over the ranks.
        case sum
        /// Element-wise sum divided by ``Communicator/size``: gradient averaging.
        case mean
    }

    /// This process's index in the world, `0..<size`.
    public let rank: Int
    /// The number of processes in the job.
    public let size: Int
    /// This process's index among the job's processes on the same host
    /// (`OMPI_COMM_WORLD_LOCAL_RANK`; 0 without it): the GPU to pick on a multi-GPU node.
    public let localRank: Int
    /// The host this rank runs on (`MPI_Get_processor_name`, or `gethostname` for one process).
    public let hostName: String
    /// Whether collectives go through MPI (a world of more than one process).
    public var usesMPI: Bool { mpi }

    private let mpi: Bool
    private let lock = NSLock()
    private var finalized = false

    private init(rank: Int, size: Int, localRank: Int, hostName: String, mpi: Bool) {
        self.rank = rank
        self.size = size
        self.localRank = localRank
        self.hostName = hostName
        self.mpi = mpi
    }

    // MARK: - The world

    private static let shared = Result<Communicator, any Error> {
        try make(environment: ProcessInfo.processInfo.environment)
    }

    /// The job's world communicator, created on first use; later calls return the same one
    /// (MPI can be initialised only once per process), or throw the same error.
    ///
    /// The world has one process unless `OMPI_COMM_WORLD_SIZE` (set by Open MPI's `mpirun`)
    /// is above 1; then libmpi is loaded and MPI initialised.
    public static func world() throws -> Communicator {
        try shared.get()
    }

    /// A world of this process alone, without MPI, whatever the environment says: for work that
    /// must not take part in a job's collectives (tests, tools).
    public static func local() -> Communicator {
        Communicator(rank: 0, size: 1, localRank: 0, hostName: systemHostName(), mpi: false)
    }

    /// Builds the world a process with `environment` would see. Not cached: for tests, and for
    /// ``world()`` once.
    static func make(environment: [String: String]) throws -> Communicator {
        let requested = try integer(environment, "OMPI_COMM_WORLD_SIZE") ?? 1
        let localRank = try integer(environment, "OMPI_COMM_WORLD_LOCAL_RANK") ?? 0
        guard requested >= 1 else {
            throw SSLError.invalidArgument(op: "Communicator.world", detail: "OMPI_COMM_WORLD_SIZE is \(requested)")
        }
        if requested == 1 {
            return Communicator(rank: 0, size: 1, localRank: localRank, hostName: systemHostName(), mpi: false)
        }

        let path = environment["SSL_MPI_LIBRARY"].flatMap { $0.isEmpty ? nil : $0 }
        var message = [CChar](repeating: 0, count: 1024)
        if cmpi_load(path, &message, message.count) != 0 {
            throw SSLError.mpi(call: "loading libmpi", message: String(cString: message)
                + " (this world has \(requested) processes, so Open MPI is needed: apt-get install openmpi-bin,"
                + " or set SSL_MPI_LIBRARY to the path of libmpi.so)")
        }
        var provided: Int32 = 0
        try check(cmpi_init(&provided), "MPI_Init_thread")
        var rank: Int32 = 0, size: Int32 = 0
        try check(cmpi_rank(&rank), "MPI_Comm_rank")
        try check(cmpi_size(&size), "MPI_Comm_size")
        var name = [CChar](repeating: 0, count: 257)
        try check(cmpi_processor_name(&name, name.count), "MPI_Get_processor_name")
        return Communicator(rank: Int(rank), size: Int(size), localRank: localRank,
                            hostName: String(cString: name), mpi: true)
    }

    private static func integer(_ environment: [String: String], _ name: String) throws -> Int? {
        guard let text = environment[name] else { return nil }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), value >= 0 else {
            throw SSLError.invalidArgument(op: "Communicator.world", detail: "\(name)=\(text) is not a count")
        }
        return value
    }

    private static func systemHostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "localhost" }
        return String(cString: name)
    }

    // MARK: - Errors

    /// The error for an MPI status code: the call's name and MPI's own text for the code
    /// (e.g. "MPI_ERR_ROOT: invalid root").
    public static func error(call: String, code: Int32) -> SSLError {
        var text = [CChar](repeating: 0, count: 512)
        cmpi_error_string(code, &text, text.count)
        return .mpi(call: call, message: "\(String(cString: text)) (MPI error \(code))")
    }

    private static func check(_ code: Int32, _ call: String) throws {
        if code != 0 { throw error(call: call, code: code) }
    }

    /// Runs one MPI call under the lock, after checking that MPI is still usable.
    private func call(_ name: String, _ body: () -> Int32) throws {
        lock.lock()
        defer { lock.unlock() }
        guard !finalized else {
            throw SSLError.invalidArgument(op: name, detail: "the communicator was finalized")
        }
        try Communicator.check(body(), name)
    }

    private func count32(_ count: Int, _ op: String) throws -> Int32 {
        guard count <= Int(Int32.max) else {
            throw SSLError.invalidArgument(op: op, detail: "\(count) values exceed MPI's Int32 count; split the call")
        }
        return Int32(count)
    }

    // MARK: - Collectives

    /// Combines `values` element-wise over all ranks, in place: every rank ends with the same sum
    /// (or mean). Every rank must pass the same count.
    public func allReduce(_ values: inout [Float], _ reduction: Reduction = .sum) throws {
        guard mpi else { return }
        let count = try count32(values.count, "MPI_Allreduce")
        try withNonNullPointer(&values) { pointer in
            try call("MPI_Allreduce") { cmpi_allreduce_sum_float(pointer, count) }
        }
        if reduction == .mean {
            let n = Float(size)
            for i in values.indices { values[i] /= n }
        }
    }

    /// `allReduce(_:_:)` for Double values (losses, metrics, counts).
    public func allReduce(_ values: inout [Double], _ reduction: Reduction = .sum) throws {
        guard mpi else { return }
        let count = try count32(values.count, "MPI_Allreduce")
        try withNonNullPointer(&values) { pointer in
            try call("MPI_Allreduce") { cmpi_allreduce_sum_double(pointer, count) }
        }
        if reduction == .mean {
            let n = Double(size)
            for i in values.indices { values[i] /= n }
        }
    }

    /// All-reduces a tensor in place: download → MPI → upload into the same tensor.
    ///
    /// Cost, per call: the download waits for every op enqueued on `backend` (a full
    /// synchronisation), then copies 4·N bytes to the host; MPI moves about 2·(P−1)/P·4·N bytes
    /// per rank (ring all-reduce); the upload copies 4·N bytes back. Nothing overlaps with device
    /// work, and each call pays MPI's latency: reduce one flat buffer of all gradients rather
    /// than one tensor per layer. With one process it returns at once without touching the tensor.
    public func allReduce(_ tensor: Tensor, on backend: any Backend, _ reduction: Reduction = .sum) throws {
        guard mpi else { return }
        var values = try backend.download(tensor)
        try allReduce(&values, reduction)
        try backend.upload(values, into: tensor)
    }

    /// Starts summing `values` over all ranks without waiting (`MPI_Iallreduce`): the transfer
    /// proceeds while this rank does other work, e.g. downloads the next gradient bucket.
    /// ``PendingSum/wait()`` returns the sums. Every rank must start the same sums in the same order.
    public func startSum(_ values: [Float]) throws -> PendingSum {
        let pending = PendingSum(values, communicator: self)
        guard mpi else { return pending }
        let count = try count32(values.count, "MPI_Iallreduce")
        guard count > 0 else { return pending }
        try call("MPI_Iallreduce") { cmpi_iallreduce_sum_float(pending.buffer.baseAddress, count, &pending.request) }
        pending.started = true
        return pending
    }

    /// Lets MPI progress `pending` (Open MPI moves non-blocking collectives only inside MPI calls);
    /// returns whether it has completed.
    @discardableResult
    func test(_ pending: PendingSum) throws -> Bool {
        guard pending.started else { return true }
        var done: Int32 = 0
        try call("MPI_Test") { cmpi_test(&pending.request, &done) }
        if done != 0 { pending.started = false }
        return done != 0
    }

    func wait(_ pending: PendingSum) throws {
        guard pending.started else { return }
        try call("MPI_Wait") { cmpi_wait(&pending.request) }
        pending.started = false
    }

    /// Concatenates every rank's `values` in rank order; every rank must pass the same count.
    /// - Returns: `size · values.count` values, rank 0's first.
    public func allGather(_ values: [Float]) throws -> [Float] {
        guard mpi else { return values }
        let count = try count32(values.count, "MPI_Allgather")
        var result = [Float](repeating: 0, count: values.count * size)
        try withNonNullPointer(values) { send in
            try withNonNullPointer(&result) { receive in
                try call("MPI_Allgather") { cmpi_allgather_float(send, count, receive) }
            }
        }
        return result
    }

    /// Concatenates every rank's `values` in rank order when ranks hold different counts.
    /// - Parameters:
    ///   - values: this rank's values.
    ///   - counts: every rank's count, rank order; the same array on every rank, and
    ///     `counts[rank] == values.count`.
    /// - Returns: `counts.reduce(0, +)` values, rank 0's first.
    public func allGather(_ values: [Float], counts: [Int]) throws -> [Float] {
        let op = "Communicator.allGather"
        guard counts.count == size else {
            throw SSLError.invalidArgument(op: op, detail: "\(counts.count) counts for a world of \(size) ranks")
        }
        guard counts[rank] == values.count, counts.allSatisfy({ $0 >= 0 }) else {
            throw SSLError.invalidArgument(
                op: op, detail: "rank \(rank) holds \(values.count) values but counts are \(counts)")
        }
        guard mpi else { return values }
        let counts32 = try counts.map { try count32($0, "MPI_Allgatherv") }
        var displacements: [Int32] = []
        var offset = 0
        for count in counts {
            displacements.append(try count32(offset, "MPI_Allgatherv"))
            offset += count
        }
        var result = [Float](repeating: 0, count: offset)
        try withNonNullPointer(values) { send in
            try withNonNullPointer(&result) { receive in
                try call("MPI_Allgatherv") {
                    cmpi_allgatherv_float(send, counts32[rank], receive, counts32, displacements)
                }
            }
        }
        return result
    }

    /// Concatenates every rank's `values` in rank order, exchanging the counts first
    /// (one extra small `MPI_Allgather`).
    /// - Returns: the concatenation and every rank's count.
    public func allGatherUneven(_ values: [Float]) throws -> (values: [Float], counts: [Int]) {
        guard mpi else { return (values, [values.count]) }
        var mine = try count32(values.count, "MPI_Allgather")
        var counts = [Int32](repeating: 0, count: size)
        try withUnsafeMutablePointer(to: &mine) { send in
            try counts.withUnsafeMutableBufferPointer { receive in
                try call("MPI_Allgather") { cmpi_allgather_int(send, 1, receive.baseAddress) }
            }
        }
        let all = counts.map(Int.init)
        return (try allGather(values, counts: all), all)
    }

    /// Replaces `values` on every rank by root's; every rank must pass the same count.
    public func broadcast(_ values: inout [Float], root: Int = 0) throws {
        guard (0..<size).contains(root) else {
            throw SSLError.invalidArgument(op: "Communicator.broadcast", detail: "root \(root) is not a rank of 0..<\(size)")
        }
        guard mpi else { return }
        let count = try count32(values.count, "MPI_Bcast")
        let root32 = Int32(root)
        try withNonNullPointer(&values) { pointer in
            try call("MPI_Bcast") { cmpi_bcast_float(pointer, count, root32) }
        }
    }

    /// Waits until every rank has reached this call.
    public func barrier() throws {
        guard mpi else { return }
        try call("MPI_Barrier") { cmpi_barrier() }
    }

    // MARK: - Ending

    /// Ends MPI for this process (`MPI_Finalize`, itself collective): call it once at the end of
    /// a successful run, on every rank. Later collectives throw; a second call does nothing.
    /// Without it `mpirun` reports that the process exited without finalising and fails the job.
    public func finalize() throws {
        guard mpi else { return }
        lock.lock()
        defer { lock.unlock() }
        guard !finalized else { return }
        finalized = true
        try Communicator.check(cmpi_finalize(), "MPI_Finalize")
    }

    /// Ends every rank of the job at once (`MPI_Abort`): for a failure on one rank that would
    /// otherwise leave the others waiting. With one process, exits with `code`.
    public func abort(code: Int32) -> Never {
        if mpi { _ = cmpi_abort(code) }
        exit(code)
    }
}

/// MPI rejects NULL buffers in some argument checks even for a count of 0; an empty Swift array
/// may have no storage, so hand MPI a valid address in that case.
private func withNonNullPointer<T: Numeric>(_ values: inout [T], _ body: (UnsafeMutableRawPointer) throws -> Void) throws {
    var spare = T.zero
    try values.withUnsafeMutableBufferPointer { buffer in
        if let base = buffer.baseAddress { try body(UnsafeMutableRawPointer(base)) }
        else { try withUnsafeMutablePointer(to: &spare) { try body(UnsafeMutableRawPointer($0)) } }
    }
}

private func withNonNullPointer<T: Numeric>(_ values: [T], _ body: (UnsafeRawPointer) throws -> Void) throws {
    var spare = T.zero
    try values.withUnsafeBufferPointer { buffer in
        if let base = buffer.baseAddress { try body(UnsafeRawPointer(base)) }
        else { try withUnsafePointer(to: &spare) { try body(UnsafeRawPointer($0)) } }
    }
}

/// A sum over ranks in flight (``Communicator/startSum(_:)``): owns the buffer MPI writes into
/// until it completes, so the values cannot move or be freed under MPI.
public final class PendingSum {
    fileprivate let buffer: UnsafeMutableBufferPointer<Float>
    fileprivate var request: UnsafeMutableRawPointer?
    fileprivate var started = false
    private let communicator: Communicator

    fileprivate init(_ values: [Float], communicator: Communicator) {
        buffer = .allocate(capacity: max(values.count, 1))
        _ = buffer.initialize(from: values)
        self.communicator = communicator
        count = values.count
    }

    /// The number of values.
    public let count: Int

    /// Lets MPI progress the transfer; true once it has completed.
    public func poll() throws -> Bool { try communicator.test(self) }

    /// Waits for the sum and returns it (every rank's values summed element-wise).
    public func wait() throws -> [Float] {
        try communicator.wait(self)
        return Array(buffer.prefix(count))
    }

    deinit {
        // A request still in flight must finish before its buffer is freed.
        if started { try? communicator.wait(self) }
        buffer.deallocate()
    }
}
