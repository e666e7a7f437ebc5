// similarityTopK (Kernels/knn.cl): the fused kernel's two tile shapes and the unfused path against
// the reference's GEMM + topK, exactly where dot products are exact, to rounding elsewhere.
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

@Suite(.enabled(if: TestBackends.hasOpenCL)) struct SimilarityTopKTests {
    /// Every way the OpenCL backend can compute it at `k`: the fused tile shapes that fit the
    /// device (Oclgrind's 32 KiB of local memory holds the large tiles' lists only up to k = 15)
    /// and the unfused path.
    static func openCLVersions(k: Int) throws -> [(String, (Tensor, Tensor, Int, Int, TopKResult?) throws -> TopKResult)] {
        let cl = TestBackends.openCL!
        let unfused = OpenCLBackend(context: cl.context, kernels: KernelChoices(knn: .unfused))
        return try [KNNTiles.large, .small].filter { try cl.knnTilesFit($0, k: k) }.map { tiles in
            ("fused \(tiles)", { q, keys, k, offset, running in
                try cl.similarityTopKFused(q, keys, k: k, columnOffset: offset, merging: running, tiles: tiles)
            })
        } + [("unfused", { q, keys, k, offset, running in
            try unfused.similarityTopK(q, keys, k: k, columnOffset: offset, merging: running)
        })]
    }

    /// Integer features in −2...2: every dot product (|s| ≤ 4·D) is exact in float32 on any
    /// summation order, and the few distinct values make most selected entries ties.
    static func integerFeatures(_ rows: Int, _ d: Int, seed: UInt64) -> [Float] {
        var rng = SeededRandom(seed: seed)
        return (0..<(rows * d)).map { _ in Float(Int(rng.next() % 5) - 2) }
    }

    /// (R, C, D, k, key chunks): R = 1, primes, R = 130 past one 128-row tile; C = 1; C > 512, so
    /// that both tile shapes split the columns (PoCL: 3 and 5 splits); D = 1 and D off the 16-wide
    /// slices; k = 1, k = C, k > C (empty slots); several chunks merged through `running`.
    static let cases: [(Int, Int, Int, Int, [Int])] = [
        (1, 1, 1, 1, [1]), (7, 13, 17, 5, [13]), (3, 9, 33, 12, [9]), (130, 700, 19, 20, [700]),
        (37, 300, 8, 20, [129, 1, 170]), (5, 64, 4, 64, [64]),
    ]

    @Test("exact dot products: equals the reference's GEMM + topK value for value and index", arguments: Oclgrind.cases(cases) { $0.0 * $0.1 })
    func exactMatchesReference(_ c: (Int, Int, Int, Int, [Int])) throws {
        let (rows, cols, d, k, chunks) = c
        let queries = Self.integerFeatures(rows, d, seed: UInt64(rows + d)), keys = Self.integerFeatures(cols, d, seed: UInt64(cols))
        let ref = TestBackends.reference, cl = TestBackends.openCL!
        func run(_ upload: ([Float], [Int]) throws -> Tensor,
                 _ select: (Tensor, Tensor, Int, Int, TopKResult?) throws -> TopKResult) throws -> (Tensor, Tensor) {
            var running: TopKResult? = nil, offset = 0
            let q = try upload(queries, [rows, d])
            for width in chunks {
                let block = try upload(Array(keys[(offset * d)..<((offset + width) * d)]), [width, d])
                running = try select(q, block, k, offset, running)
                offset += width
            }
            return (running!.values, running!.indices)
        }
        let expected = try run({ try ref.upload($0, shape: $1) }) { try ref.similarityTopK($0, $1, k: $2, columnOffset: $3, merging: $4) }
        let expectedValues = try ref.download(expected.0), expectedIndices = try ref.download(expected.1)
        for (name, select) in try Self.openCLVersions(k: k) {
            let got = try run({ try cl.upload($0, shape: $1) }, select)
            #expect(try cl.download(got.0) == expectedValues, "values \(c), \(name)")
            #expect(try cl.download(got.1) == expectedIndices, "indices \(c), \(name)")
        }
    }

    @Test("float features: values to float32 rounding, the same neighbours where gaps exceed it")
    func floatsMatchReference() throws {
        // Under Oclgrind 170 keys: still past one 128-column tile and split over several.
        let (rows, cols, d, k) = (41, Oclgrind.isRunning ? 170 : 530, 37, 20)
        var rng = SeededRandom(seed: 17)
        let queries = rng.uniform(rows * d), keys = rng.uniform(cols * d)
        let ref = TestBackends.reference, cl = TestBackends.openCL!
        let expected = try ref.similarityTopK(try ref.upload(queries, shape: [rows, d]), try ref.upload(keys, shape: [cols, d]),
                                              k: k, columnOffset: 3, merging: nil)
        let ev = try ref.download(expected.values), ei = try ref.download(expected.indices)
        for (name, select) in try Self.openCLVersions(k: k) {
            let got = try select(try cl.upload(queries, shape: [rows, d]), try cl.upload(keys, shape: [cols, d]), k, 3, nil)
            let gv = try cl.download(got.values), gi = try cl.download(got.indices)
            // |s| ≤ D = 37 summed in float32 in another order: ≤ D·2⁻²⁴·Σ|q||k| ≈ 1e-5 apart.
            assertClose(gv, ev.map(Double.init), shape: [gv.count], expectedShape: [ev.count], rtol: 1e-5, atol: 2e-5, name)
            for r in 0..<rows {
                // The set of neighbours may differ only among values within rounding of the k-th.
                let kth = ev[r * k + k - 1]
                let sure = { (v: [Float], i: [Float]) in Set((0..<k).filter { v[r * k + $0] > kth + 1e-4 }.map { i[r * k + $0] }) }
                #expect(sure(gv, gi) == sure(ev, ei), "row \(r), \(name)")
            }
        }
    }

    @Test("NaN similarities rank as −∞, before empty slots, ties by index, as topK")
    func nanAsMinusInfinity() throws {
        let cl = TestBackends.openCL!
        let queries: [Float] = [.nan, 0, 1, 1]  // row 0 scores NaN with every key
        let keys: [Float] = [1, 0, 0, 1, 1, 1]  // row 1 scores 1, 1, 2
        let ref = TestBackends.reference
        let expected = try ref.similarityTopK(try ref.upload(queries, shape: [2, 2]), try ref.upload(keys, shape: [3, 2]),
                                              k: 4, columnOffset: 0, merging: nil)
        #expect(try ref.download(expected.indices) == [0, 1, 2, -1, 2, 0, 1, -1])
        for (name, select) in try Self.openCLVersions(k: 4) {
            let got = try select(try cl.upload(queries, shape: [2, 2]), try cl.upload(keys, shape: [3, 2]), 4, 0, nil)
            #expect(try cl.download(got.indices) == [0, 1, 2, -1, 2, 0, 1, -1], "\(name)")
            #expect(try cl.download(got.values) == [-.infinity, -.infinity, -.infinity, -.infinity, 2, 1, 1, -.infinity], "\(name)")
        }
    }

    @Test("KNNClassifier: both versions give the same predictions, and votes to rounding")
    func classifierVersionsAgree() throws {
        let cl = TestBackends.openCL!
        let trainRows = Oclgrind.isRunning ? 130 : 300  // under Oclgrind still two train chunks
        let train = try evalRandomFeatures(trainRows, 24, seed: 31), test = try evalRandomFeatures(70, 24, seed: 32)
        let labels = evalRandomLabels(trainRows, classes: 5, seed: 33)
        let knn = KNNClassifier(k: 20, temperature: 0.07, testChunk: 64, trainChunk: Oclgrind.isRunning ? 100 : 200)
        let fused = try knn.classify(train: train, labels: labels, test: test,
                                     on: OpenCLBackend(context: cl.context, kernels: KernelChoices(knn: .fused)))
        let unfused = try knn.classify(train: train, labels: labels, test: test,
                                       on: OpenCLBackend(context: cl.context, kernels: KernelChoices(knn: .unfused)))
        #expect(fused.predictions == unfused.predictions)
        // Similarities to float32 rounding (~D·2⁻²⁴), weights exp(Δs/T): ~1/T times that.
        assertClose(fused.votes, unfused.votes.map(Double.init), shape: [fused.votes.count], expectedShape: [unfused.votes.count],
                    rtol: 1e-4, atol: 1e-5, "fused vs unfused votes")
    }

    @Test("fused tiles that do not fit the device's local memory are a clear error, not a failed launch")
    func tilesThatDoNotFitAreRefused() throws {
        // 16 KiB, as on older GPUs: the small tiles' lists (8 bytes × 64 rows × k) fit up to k = 15.
        let cl = try #require(try TestBackends.openCL(localMemoryBytes: 16 * 1024))
        let k = 40
        let q = try cl.zeros([2, 3]), keys = try cl.zeros([k + 1, 3])
        #expect(try !cl.knnTilesFit(.small, k: k))
        let error = #expect(throws: SSLError.self) {
            _ = try cl.similarityTopKFused(q, keys, k: k, columnOffset: 0, merging: nil, tiles: .small)
        }
        #expect(error?.description.contains("use KNNVariant.unfused") == true, "\(String(describing: error))")
    }

    @Test("GEMM + topK is chosen automatically until a device measures the fused version faster; shapes and k are checked as topK's")
    func choiceAndErrors() throws {
        let cl = untunedOpenCL!
        #expect(cl.automaticKNNVariant(k: 20) == .unfused)
        let q = try cl.zeros([2, 3]), keys = try cl.zeros([4, 3])
        let message = { (body: () throws -> Void) -> String in
            do { try body(); return "no error" } catch { return "\(error)" }
        }
        #expect(message { _ = try cl.similarityTopK(q, try cl.zeros([4, 2]), k: 1, columnOffset: 0, merging: nil) }
                == "similarityTopK: shape mismatch: queries (2, 3) and keys (4, 2) have different feature counts")
        #expect(message { _ = try cl.similarityTopK(q, keys, k: 0, columnOffset: 0, merging: nil) } == "similarityTopK: k must be in 1...1024, got 0")
        let running = try cl.similarityTopK(q, keys, k: 2, columnOffset: 0, merging: nil)
        #expect(message { _ = try cl.similarityTopK(q, keys, k: 3, columnOffset: 4, merging: running) }.contains("running selection"))
    }
}
