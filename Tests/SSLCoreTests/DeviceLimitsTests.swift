// The fallbacks for small devices: on a device that reports work-groups of 64, 16 KiB of local
// memory and 64 KiB buffers (an Intel iGPU or an older AMD card is near these), every op with a
// fixed-size or fused kernel either takes a form that fits, agreeing with the reference, or
// refuses with an error naming the limit. On PoCL the limits are the capped device's; under
// Oclgrind (scripts/oclgrind.sh's small-limit pass) the simulated device itself has them.
import Foundation
import Testing
@testable import SSLCore

@Suite(.enabled(if: TestBackends.hasOpenCL)) struct DeviceLimitsTests {
    static let workGroup = 64, localMemory = 16 * 1024, allocation = 64 * 1024

    /// One small-limit backend for the suite, so that its programs build once.
    private static let shared: OpenCLBackend? = try? TestBackends.openCL(
        maxAllocationBytes: allocation, localMemoryBytes: localMemory, maxWorkGroupSize: workGroup)

    /// The small-limit backend with `kernels`; under Oclgrind the calling thread gets its context first
    /// (TestBackends.perThread).
    static func small(_ kernels: KernelChoices = KernelChoices()) throws -> OpenCLBackend {
        _ = TestBackends.openCL
        // The built-in choices, whatever tuning file applies to the device.
        return OpenCLBackend(context: try #require(shared).context, kernels: kernels, paths: nil)
    }

    @Test("the backend plans for the small limits")
    func limits() throws {
        let device = try Self.small().device
        #expect(device.maxWorkGroupSize == Self.workGroup && device.localMemoryBytes == Self.localMemory
                && device.maxAllocationBytes == Self.allocation)
    }

    /// Rows longer than a group: each row kernel, the column and per-channel reductions in their
    /// group forms, with 64 work-items instead of 256. Tolerances as in RowOpsTests (float32 sums
    /// of ≤ 300 terms against Double).
    @Test("row kernels and reductions in groups of 64 match the reference")
    func rowsAndReductions() throws {
        let ref = TestBackends.reference
        let cl = try Self.small(KernelChoices(columnReductions: false, serialRows: false))
        var rng = SeededRandom(seed: 64)
        for (rows, cols) in [(3, 300), (67, 5)] {
            let x = rng.uniform(rows * cols, scale: 3)
            let a = try cl.upload(x, shape: [rows, cols]), b = try ref.upload(x, shape: [rows, cols])
            let what = "\(rows)×\(cols)"
            try assertClose(try cl.l2Normalize(a, eps: 1e-12), on: cl, try ref.l2Normalize(b, eps: 1e-12), on: ref,
                            rtol: 1e-5, atol: 1e-6, "l2Normalize \(what)")
            try assertClose(try cl.softmax(a), on: cl, try ref.softmax(b), on: ref, rtol: 1e-5, atol: 1e-7, "softmax \(what)")
            try assertClose(try cl.logSoftmax(a), on: cl, try ref.logSoftmax(b), on: ref, rtol: 1e-5, atol: 1e-5,
                            "logSoftmax \(what)")
            for axis in [0, 1] {
                try assertClose(try cl.sum(a, axis: axis), on: cl, try ref.sum(b, axis: axis), on: ref,
                                rtol: 1e-5, atol: 1e-4, "sum axis \(axis) \(what)")
            }
            let bn = try cl.standardizeColumns(a, eps: 1e-5), expected = try ref.standardizeColumns(b, eps: 1e-5)
            try assertClose(bn.y, on: cl, expected.y, on: ref, rtol: 1e-4, atol: 1e-4, "batchNorm \(what)")
        }
    }

    /// The backward's key tile of 128 columns needs 24.8 KB: 32 columns (12.5 KB) run instead,
    /// D = 40 ending inside the second of those blocks and inside a 16-feature step. (Auto takes these kernels where the (2N)² similarities
    /// exceed a buffer: NTXentTests.automaticAlgorithm.)
    @Test("fused NT-Xent builds its narrow backward tile and matches the reference; below it, a clear error")
    func ntXent() throws {
        let cl = try Self.small()
        #expect(NTXentFusedTiles.backwardColumns(localMemoryBytes: Self.localMemory) == 32)
        let (n, d) = (7, 40)
        var rng = SeededRandom(seed: 47)
        let z1 = rng.uniform(n * d, scale: 2), z2 = rng.uniform(n * d)
        try NTXentTests.expectParity(z1, z2, n: n, d: d, on: cl, "small limits") { a, b in
            try cl.ntXent(a, b, temperature: 0.1, algorithm: .fused)
        }
        // Below 12.5 KB not even the narrow tile fits: an error that names the way out. Host logic
        // alone, skipped under Oclgrind, where its new context would rebuild the programs.
        guard !Oclgrind.isRunning else { return }
        let tiny = try #require(try TestBackends.openCL(localMemoryBytes: 8 * 1024))
        let error = #expect(throws: SSLError.self) {
            _ = try tiny.ntXent(try tiny.zeros([2, 3]), try tiny.zeros([2, 3]), temperature: 0.1, algorithm: .fused)
        }
        #expect(error?.description.contains("use NTXentAlgorithm.gemm") == true, "\(String(describing: error))")
    }

    /// Every version, with groups of 64 (one-pass folds 32 columns × 2 lanes) and the automatic
    /// choice; tolerances as SinkhornTests.
    @Test("every Sinkhorn version fits groups of 64 and matches SwAV's formula")
    func sinkhorn() throws {
        let cl = try Self.small()
        for (b, k) in [(7, 300), (33, 65)] {
            var rng = SeededRandom(seed: UInt64(b * k))
            let scores = rng.uniform(b * k)
            let expected = swavSinkhorn(scores, b: b, k: k, epsilon: 0.05, iterations: 3)
            for variant in SinkhornVariant.allCases {
                let q = try cl.sinkhorn(try cl.upload(scores, shape: [b, k]), epsilon: 0.05, iterations: 3, variant: variant)
                assertClose(try cl.download(q), expected, shape: q.shape, expectedShape: [b, k],
                            rtol: SinkhornTests.tolerance(0.05), atol: SinkhornTests.tolerance(0.05), "\(variant) \(b)×\(k)")
            }
        }
        // One group holds B + K + 2·64 floats: 4000 of them do not fit 16 KiB, so auto passes once
        // per iteration and forcing one group is refused.
        #expect(cl.automaticSinkhornVariant(b: 8, k: 600) == .oneGroup)
        #expect(cl.automaticSinkhornVariant(b: 1, k: 4000) == .onePass)
        #expect(throws: SSLError.self) {
            _ = try cl.sinkhorn(try cl.zeros([1, 4000]), epsilon: 0.05, iterations: 1, variant: .oneGroup)
        }
    }

    /// Integer features make every similarity exact, so values and indices equal the reference's
    /// (SimilarityTopKTests): the portable 32 × 32 tiles at k 20, then a k whose lists exceed them.
    @Test("fused kNN takes the 64-work-item tiles; k beyond their local memory is a clear error")
    func knn() throws {
        let cl = try Self.small(KernelChoices(knn: .fused)), ref = TestBackends.reference
        #expect(try cl.knnTiles(k: 20) == .portable && cl.knnTilesFit(.small, k: 20) == false)
        let (rows, cols, d, k) = (37, 70, 9, 20)
        let queries = SimilarityTopKTests.integerFeatures(rows, d, seed: 1), keys = SimilarityTopKTests.integerFeatures(cols, d, seed: 2)
        let got = try cl.similarityTopK(try cl.upload(queries, shape: [rows, d]), try cl.upload(keys, shape: [cols, d]),
                                        k: k, columnOffset: 5, merging: nil)
        let expected = try ref.similarityTopK(try ref.upload(queries, shape: [rows, d]), try ref.upload(keys, shape: [cols, d]),
                                              k: k, columnOffset: 5, merging: nil)
        #expect(try cl.download(got.values) == ref.download(expected.values))
        #expect(try cl.download(got.indices) == ref.download(expected.indices))
        #expect(try cl.knnTiles(k: 60) == nil)
        let error = #expect(throws: SSLError.self) {
            _ = try cl.similarityTopK(try cl.zeros([2, 3]), try cl.zeros([61, 3]), k: 60, columnOffset: 0, merging: nil)
        }
        #expect(error?.description.contains("use KNNVariant.unfused") == true, "\(String(describing: error))")
    }

    /// topk_merge keeps two k-lists in local memory (16 bytes per entry): at k = 1000 they exceed
    /// 16 KiB, and the one-work-item-a-row kernel selects in global memory instead. Fewer
    /// columns than k (the rest of each list empty) keep its insertions few under Oclgrind.
    @Test("top-k with lists larger than local memory selects row by row, as the reference")
    func topKBeyondLocalMemory() throws {
        let cl = try Self.small(KernelChoices(serialRows: false)), ref = TestBackends.reference
        let (rows, cols, k) = (3, 41, 1000)
        var rng = SeededRandom(seed: 1000)
        let scores = rng.uniform(rows * cols)
        let got = try cl.topK(try cl.upload(scores, shape: [rows, cols]), k: k, columnOffset: 0, merging: nil)
        let expected = try ref.topK(try ref.upload(scores, shape: [rows, cols]), k: k, columnOffset: 0, merging: nil)
        #expect(try cl.download(got.values) == ref.download(expected.values))
        #expect(try cl.download(got.indices) == ref.download(expected.indices))
    }

    /// The emulated TF32 kernel (GemmTF32Tests) with the tiles the device takes: 1 × 2 warps.
    @Test("the TF32 kernel takes 64-work-item tiles; forcing 256 is refused by the launch, naming the limit")
    func tf32() throws {
        let cl = try Self.small()
        #expect(try cl.tf32Tiles(emulated: true) == .portable)
        let (m, n, k) = (37, 41, 19)
        var rng = SeededRandom(seed: 32)
        let a = rng.uniform(m * k), b = rng.uniform(k * n), c0 = rng.uniform(m * n)
        let c = try cl.upload(c0, shape: [m, n])
        try cl.gemmTF32(try cl.upload(a, shape: [m, k]), try cl.upload(b, shape: [k, n]), transposeA: false, transposeB: false,
                        alpha: 0.5, beta: 0.75, into: c, tiles: .portable, emulate: true)
        let worst = GemmTF32Tests.worstError(try cl.download(c), a: a, b: b, c0: c0, m: m, n: n, k: k, alpha: 0.5, beta: 0.75)
        #expect(worst <= 1, "\(worst)× the bound")
        let error = #expect(throws: SSLError.self) {
            try cl.gemmTF32(try cl.zeros([m, k]), try cl.zeros([k, n]), transposeA: false, transposeB: false,
                            alpha: 1, beta: 0, into: try cl.zeros([m, n]), tiles: .standard, emulate: true)
        }
        #expect(error == .exceedsDeviceLimits(kernel: "gemm_tf32", device: cl.device.name,
                                              detail: "groups of 256 work-items, but it runs at most 64 per group there"))
    }
}
