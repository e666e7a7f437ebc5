// The data-parallel Communicator: one-process semantics in process, always; two real ranks
// under Open MPI's mpirun when it is installed (in CI, `CI` set, a missing mpirun fails).
import Foundation
import Testing
@testable import SSLCore
@testable import SSLDistributed

@Suite struct CommunicatorTests {
    @Test("one process: rank 0 of 1, and every collective is the identity")
    func singleProcess() throws {
        let world = try Communicator.make(environment: [:])
        #expect(world.rank == 0 && world.size == 1 && world.localRank == 0 && !world.usesMPI)
        #expect(!world.hostName.isEmpty)

        var values: [Float] = [1.5, -2, 0, 7]
        try world.allReduce(&values, .sum)
        #expect(values == [1.5, -2, 0, 7])
        try world.allReduce(&values, .mean)
        #expect(values == [1.5, -2, 0, 7])
        var doubles: [Double] = [0.1, 3]
        try world.allReduce(&doubles, .mean)
        #expect(doubles == [0.1, 3])
        var empty: [Float] = []
        try world.allReduce(&empty)
        #expect(empty.isEmpty)

        #expect(try world.allGather(values) == values)
        #expect(try world.allGather(values, counts: [4]) == values)
        let uneven = try world.allGatherUneven(values)
        #expect(uneven.values == values && uneven.counts == [4])
        try world.broadcast(&values, root: 0)
        #expect(values == [1.5, -2, 0, 7])
        try world.barrier()

        let backend = TestBackends.reference
        let tensor = try backend.upload([1, 2, 3, 4, 5, 6], shape: [2, 3])
        try world.allReduce(tensor, on: backend, .mean)
        #expect(try backend.download(tensor) == [1, 2, 3, 4, 5, 6])

        try world.finalize()  // nothing to end without MPI; collectives stay the identity
        try world.barrier()
    }

    @Test("world() without mpirun is one process, the same object on every call")
    func worldWithoutMPIRun() throws {
        try #require(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] == nil)
        let world = try Communicator.world()
        #expect(world.size == 1 && world.rank == 0 && !world.usesMPI)
        #expect(try Communicator.world() === world)
    }

    @Test("mpirun -np 1 needs no MPI; the local rank is read; a bad count is an error naming the variable")
    func environment() throws {
        let one = try Communicator.make(environment: ["OMPI_COMM_WORLD_SIZE": "1", "OMPI_COMM_WORLD_LOCAL_RANK": "3"])
        #expect(one.size == 1 && one.localRank == 3 && !one.usesMPI)
        for (name, value) in [("OMPI_COMM_WORLD_SIZE", "two"), ("OMPI_COMM_WORLD_SIZE", "0"),
                              ("OMPI_COMM_WORLD_LOCAL_RANK", "-1")] {
            let error = #expect(throws: SSLError.self) { _ = try Communicator.make(environment: [name: value]) }
            #expect(error?.description.contains(name) == true, "\(error?.description ?? "")")
        }
    }

    @Test("a world of 2 whose libmpi cannot be loaded is an MPI error naming the library and the package")
    func missingLibrary() throws {
        // dlopen fails before any MPI call, so this is safe in the test process.
        let path = "/nonexistent/libmpi.so.40"
        let error = #expect(throws: SSLError.self) {
            _ = try Communicator.make(environment: ["OMPI_COMM_WORLD_SIZE": "2", "SSL_MPI_LIBRARY": path])
        }
        guard case let .mpi(call, message)? = error else {
            Issue.record("expected SSLError.mpi, got \(String(describing: error))")
            return
        }
        #expect(call == "loading libmpi")
        #expect(message.contains(path) && message.contains("openmpi-bin") && message.contains("SSL_MPI_LIBRARY"), "\(message)")
    }

    @Test("argument errors are thrown before MPI: counts that do not fit, a root that is no rank")
    func argumentErrors() throws {
        let world = try Communicator.make(environment: [:])
        var values: [Float] = [1, 2, 3]
        #expect(throws: SSLError.self) { _ = try world.allGather(values, counts: [3, 1]) }
        #expect(throws: SSLError.self) { _ = try world.allGather(values, counts: [2]) }
        #expect(throws: SSLError.self) { try world.broadcast(&values, root: 1) }
        #expect(throws: SSLError.self) { try world.broadcast(&values, root: -1) }
    }

    @Test("an MPI error reads as the call and MPI's message")
    func errorDescription() {
        let error = SSLError.mpi(call: "MPI_Bcast", message: "MPI_ERR_ROOT: invalid root (MPI error 8)")
        #expect(error.description == "MPI_Bcast failed: MPI_ERR_ROOT: invalid root (MPI error 8)")
        // Without libmpi loaded the shim still answers with text instead of crashing.
        #expect(Communicator.error(call: "MPI_Barrier", code: 16).description.hasPrefix("MPI_Barrier failed: "))
    }
}

// MARK: - Real ranks under mpirun

@Suite(.serialized) struct MPIRunTests {
    @Test("ssl-mpi-check without mpirun checks the one-process world and needs no MPI",
          .enabled(if: checkBinary != nil || inCI))
    func oneProcessBinary() throws {
        let binary = try #require(checkBinary, "ssl-mpi-check is not built beside the tests")
        let result = try runProcess(binary, [], timeout: 60)
        #expect(result.status == 0 && result.output.contains("ok rank 0 of 1"), "\(result.output)")
    }

    /// 120 s bounds a hang; mpirun starts 2 ranks here in about 0.5 s.
    @Test("2 ranks under mpirun: every collective gives the known result on both ranks",
          .enabled(if: mpirun != nil || inCI))
    func twoRanks() throws {
        guard let result = try mpirun2([], timeout: 120) else { return }
        #expect(!result.timedOut, "mpirun did not finish within 120 s:\n\(result.output)")
        #expect(result.status == 0, "mpirun exited \(result.status):\n\(result.output)")
        #expect(result.output.contains("ok rank 0 of 2") && result.output.contains("ok rank 1 of 2"), "\(result.output)")
        // The MPI error path: an invalid root comes back as MPI's text, not as an abort.
        #expect(result.output.contains("MPI_Bcast failed: MPI_ERR_ROOT"), "\(result.output)")
    }

    /// The known wrong-gradient bug of gathered embeddings: ssl-mpi-check computes a weight
    /// gradient through NT-Xent on gathered rows on 2 ranks and in one process, and also checks
    /// that a gather without the other ranks' share of the gradient gives a different one.
    @Test("2 ranks: the NT-Xent gradient through gathered embeddings equals the single-process gradient",
          .enabled(if: mpirun != nil || inCI))
    func gatheredNTXentGradient() throws {
        guard let result = try mpirun2(["--gathered-ntxent"], timeout: 120) else { return }
        #expect(result.status == 0, "mpirun exited \(result.status):\n\(result.output)")
        for rank in 0..<2 {
            #expect(result.output.contains("ok rank \(rank): gathered NT-Xent weight gradient equals"), "\(result.output)")
        }
    }

    /// A method defined outside the library (in ssl-mpi-check) through Trainer on 2 ranks: the
    /// gathered loss, synchronised batch norm and averaged gradients give one process's run.
    @Test("2 ranks: a user's objective trained by Trainer equals one process's run",
          .enabled(if: mpirun != nil || inCI))
    func customObjective() throws {
        guard let result = try mpirun2(["--custom-objective"], timeout: 120) else { return }
        #expect(result.status == 0, "mpirun exited \(result.status):\n\(result.output)")
        for rank in 0..<2 {
            #expect(result.output.contains("ok rank \(rank): a user's objective trained on 2 ranks equals one process"), "\(result.output)")
        }
    }

    @Test("2 and 3 ranks: weighted kNN over a bank split across the ranks equals the whole bank's",
          .enabled(if: mpirun != nil || inCI), arguments: [2, 3])
    func shardedKNN(ranks: Int) throws {
        guard let result = try mpirun2(["--knn"], ranks: ranks, timeout: 120) else { return }
        #expect(result.status == 0, "mpirun exited \(result.status):\n\(result.output)")
        for rank in 0..<ranks { #expect(result.output.contains("ok rank \(rank): kNN over a split bank"), "\(result.output)") }
    }

    /// Rank 1 fails while rank 0 waits in a barrier. mpirun ended the job here in 0.5 s (abort)
    /// and 1.4 s (exit 3); 30 s leaves room for a loaded machine and still tells a hang apart.
    @Test("a rank that aborts, or exits non-zero, ends the job within seconds instead of hanging",
          .enabled(if: mpirun != nil || inCI), arguments: ["--abort", "--exit"])
    func failingRankEndsTheJob(mode: String) throws {
        guard let result = try mpirun2([mode], timeout: 60) else { return }
        #expect(!result.timedOut, "\(mode): mpirun still waiting after 60 s:\n\(result.output)")
        #expect(result.status != 0, "\(mode): mpirun exited 0:\n\(result.output)")
        #expect(result.seconds < 30, "\(mode): mpirun took \(result.seconds) s")
        #expect(!result.output.contains("left the barrier"), "\(mode): rank 0 went on:\n\(result.output)")
        #expect(result.output.contains("failing on purpose"), "\(result.output)")
    }
}
