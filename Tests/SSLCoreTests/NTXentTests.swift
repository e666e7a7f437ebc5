// SimCLR NT-Xent: finite differences, OpenCL parity of the fused and GEMM algorithms (and the
// fused kernels' splits and tiles), the official code's values, errors, CLI.
import Foundation
import Testing
@testable import SSLCore

@Suite struct NTXentTests {
    @Test("backward matches finite differences for z1 and z2", arguments: [(1, 2, 0.1), (2, 3, 0.1), (4, 5, 0.5)])
    func gradient(_ s: (Int, Int, Double)) {
        let (n, d, t) = s
        var rng = SeededRandom(seed: UInt64(n * 10 + d))
        let z1 = rng.doubles(n * d, scale: 2), z2 = rng.doubles(n * d)
        let (_, cache) = NTXentReference.forward(z1: z1, z2: z2, n: n, d: d, temperature: t)
        let (dZ1, dZ2) = NTXentReference.backward(cache)
        checkGradient("NT-Xent dZ1 \(s)", at: z1, analytic: dZ1) {
            NTXentReference.forward(z1: $0, z2: z2, n: n, d: d, temperature: t).loss
        }
        checkGradient("NT-Xent dZ2 \(s)", at: z2, analytic: dZ2) {
            NTXentReference.forward(z1: z1, z2: $0, n: n, d: d, temperature: t).loss
        }
    }

    @Test("N = 1: each row's only other column is its partner, so the loss is 0")
    func singlePair() throws {
        try forEachBackend { backend in
            let r = try backend.ntXent(try backend.upload([1, 2, 3], shape: [1, 3]),
                                       try backend.upload([-1, 0, 2], shape: [1, 3]), temperature: 0.1)
            #expect(r.loss.shape == [])
            #expect(abs(try backend.download(r.loss)[0]) < 1e-6)
            #expect(try backend.download(r.dZ1).allSatisfy { abs($0) < 1e-5 })
        }
    }

    /// Float32 against the Double reference: the similarities carry ~√D·2⁻²⁴ relative rounding,
    /// amplified by 1/T = 10 in the logits, so the loss agrees to ~1e-6 relative and the
    /// gradients, sums of 2N such terms, to well within 1e-4 of their largest entry. Both
    /// algorithms round alike: the fused one sums each dot product and each row's exp in another
    /// order, not with fewer digits. Each term of dz_i, (p − [partner]) ẑ_j / (2N·T·‖z_i‖), is at
    /// most 1/(2N·T·‖z_i‖): the gradient's scale is at least that much of it, since where the
    /// gradient vanishes (N = 1: the partner is the only key, p = 1) rounding of those terms is
    /// what remains.
    static func expectParity(_ z1: [Float], _ z2: [Float], n: Int, d: Int, on cl: OpenCLBackend = TestBackends.openCL!,
                             _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
                             _ run: (_ z1: Tensor, _ z2: Tensor) throws -> NTXentResult) throws {
        let ref = TestBackends.reference, t = 0.1
        let expected = try ref.ntXent(try ref.upload(z1, shape: [n, d]), try ref.upload(z2, shape: [n, d]),
                                      temperature: Float(t))
        let r = try run(try cl.upload(z1, shape: [n, d]), try cl.upload(z2, shape: [n, d]))
        try assertClose(r.loss, on: cl, expected.loss, on: ref, rtol: 1e-5, atol: 1e-6, "loss \(what)",
                        sourceLocation: sourceLocation)
        let rows = z1 + z2
        let smallestNorm = (0..<(2 * n)).map { i in
            (0..<d).reduce(0.0) { $0 + Double(rows[i * d + $1]) * Double(rows[i * d + $1]) }.squareRoot()
        }.min()!
        for (name, pick) in [("dZ1", \NTXentResult.dZ1), ("dZ2", \NTXentResult.dZ2)] {
            let largest = Double(try ref.download(expected[keyPath: pick]).map(abs).max() ?? 0)
            let scale = max(largest, 1 / (2 * Double(n) * t * smallestNorm))
            try assertClose(r[keyPath: pick], on: cl, expected[keyPath: pick], on: ref, rtol: 1e-4, atol: 1e-4 * scale,
                            "\(name) \(what)", sourceLocation: sourceLocation)
        }
    }

    /// 2N = 2, 4, 14, 66, 130, 260 rows: none a multiple of the fused kernels' 32-row tiles; D
    /// below, inside and across their 16-feature steps and 128-column blocks.
    static let shapes: [(Int, Int)] = [(1, 3), (2, 13), (7, 200), (33, 65), (65, 3), (130, 200)]

    @Test("OpenCL's fused and GEMM algorithms match the reference", .enabled(if: TestBackends.hasOpenCL),
          arguments: Oclgrind.cases(shapes, limit: 2_000) { max($0.0 * $0.1, 4 * $0.0 * $0.0) }, [false, true])
    func parity(_ s: (Int, Int), serialRows: Bool) throws {
        var rng = SeededRandom(seed: UInt64(s.0 * 1000 + s.1))
        let z1 = rng.uniform(s.0 * s.1, scale: 2), z2 = rng.uniform(s.0 * s.1)
        let cl = openCL(serialRows: serialRows)
        for algorithm in [NTXentAlgorithm.fused, .gemm] {
            try Self.expectParity(z1, z2, n: s.0, d: s.1, on: cl, "\(algorithm) \(s) serial rows \(serialRows)") { a, b in
                let r = try cl.ntXent(a, b, temperature: 0.1, algorithm: algorithm)
                #expect(r.algorithm == algorithm)
                return r
            }
        }
    }

    /// One split walks every key tile in one work-group; the most splits give each work-group a
    /// single tile, so the forward merges partial log-sum-exps and the backward sums partial dẑ.
    @Test("the fused kernels give the same values with one split of the keys and with one split a tile",
          .enabled(if: TestBackends.hasOpenCL),
          arguments: Oclgrind.isRunning ? [(1, 1), (1, 3), (3, 1), (3, 3)] : [(1, 1), (1, 9), (9, 1), (9, 9)])
    func fusedSplits(_ splits: (Int, Int)) throws {
        // 260 rows: 9 key tiles of 32, the last of 4; under Oclgrind 80 rows: 3 tiles, the last of 16.
        let (n, d) = (Oclgrind.isRunning ? 40 : 130, 13)
        var rng = SeededRandom(seed: 77)
        let z1 = rng.uniform(n * d, scale: 2), z2 = rng.uniform(n * d)
        try Self.expectParity(z1, z2, n: n, d: d, "splits \(splits)") { a, b in
            try TestBackends.openCL!.ntXent(a, b, n: n, d: d, temperature: 0.1, algorithm: .fused,
                                            splits: (forward: splits.0, backward: splits.1))
        }
    }

    @Test("auto is the GEMM algorithm wherever the 2N×2N similarities fit one buffer, else fused; the definition on the reference")
    func automaticAlgorithm() throws {
        let auto = NTXentAlgorithm.automatic
        #expect(auto.resolved(rows: 130, maxAllocationBytes: 130 * 130 * 4) == .gemm)
        #expect(auto.resolved(rows: 130, maxAllocationBytes: 130 * 130 * 4 - 1) == .fused)
        #expect(auto.resolved(rows: Int.max / 2, maxAllocationBytes: .max) == .fused, "R² overflows: no buffer holds it")
        #expect(NTXentAlgorithm.gemm.resolved(rows: 1 << 20, maxAllocationBytes: 4) == .gemm)
        #expect(NTXentAlgorithm.fused.resolved(rows: 2, maxAllocationBytes: .max) == .fused)
        for backend in untunedBackends {
            for d in [3, 257] {
                let r = try backend.ntXent(try backend.upload([Float](repeating: 1, count: 2 * d), shape: [2, d]),
                                           try backend.upload([Float](repeating: 2, count: 2 * d), shape: [2, d]),
                                           temperature: 0.5)
                let expected: NTXentAlgorithm = backend.kind == .reference ? .automatic : .gemm
                #expect(r.algorithm == expected, "\(backend.name) D \(d)")
            }
        }
        // Where the similarities cannot be allocated, auto takes the fused kernels instead of failing.
        if let capped = try TestBackends.openCL(maxAllocationBytes: 130 * 130 * 4 - 4) {
            var rng = SeededRandom(seed: 7)
            let r = try capped.ntXent(try capped.upload(rng.uniform(65 * 13), shape: [65, 13]),
                                      try capped.upload(rng.uniform(65 * 13), shape: [65, 13]), temperature: 0.1)
            #expect(r.algorithm == .fused)
        }
    }

    /// On a device whose buffers must stay below (2N)²·4 bytes the fused algorithm runs, the GEMM
    /// one cannot.
    @Test("the fused algorithm never allocates a 2N×2N buffer", .enabled(if: TestBackends.hasOpenCL))
    func fusedAllocatesNoSimilarities() throws {
        let (n, d) = (65, 13), rows = 130
        let capped = try #require(try TestBackends.openCL(maxAllocationBytes: rows * rows * 4 - 4))
        var rng = SeededRandom(seed: 6)
        let z1 = rng.uniform(n * d), z2 = rng.uniform(n * d)
        try Self.expectParity(z1, z2, n: n, d: d, on: capped, "capped") { a, b in
            try capped.ntXent(a, b, temperature: 0.1, algorithm: .fused)
        }
        #expect(throwsAllocationTooLarge {
            _ = try capped.ntXent(try capped.upload(z1, shape: [n, d]), try capped.upload(z2, shape: [n, d]),
                                  temperature: 0.1, algorithm: .gemm)
        })
    }

    @Test("NTXentFusedTiles states the tiles Kernels/contrastive.cl defines, and splits as documented")
    func fusedTiles() {
        let source = KernelProgram.contrastive.source
        func define(_ name: String) -> Int? {
            source.split(separator: "\n").lazy.compactMap { line -> Int? in
                let words = line.split(separator: " ", omittingEmptySubsequences: true)
                return words.count >= 3 && words[0] == "#define" && words[1] == name ? Int(words[2]) : nil
            }.first
        }
        let t = NTXentFusedTiles.self
        #expect(define("NTX_BR") == t.rows && define("NTX_BC") == t.keys && define("NTX_BK") == t.depth
                && define("NTX_BD") == t.columns)
        #expect(define("NTX_WX") == t.workGroup.0 && define("NTX_WY") == t.workGroup.1)
        #expect(t.splits(rows: 8192, d: 128, computeUnits: 132) == (forward: 5, backward: 5))
        #expect(t.splits(rows: 260, d: 200, computeUnits: 2) == (forward: 2, backward: 1))
        // The local memory the kernel comment states, and the narrow tile a 16 KiB device gets.
        #expect(t.forwardLocalBytes == 6272 && t.backwardLocalBytes(columns: 128) == 24832)
        #expect(t.backwardColumns(localMemoryBytes: 48 * 1024) == 128 && t.backwardColumns(localMemoryBytes: 16 * 1024) == 32)
        #expect(t.backwardColumns(localMemoryBytes: 8 * 1024) == nil)
    }

    @Test("matches SimCLR's add_contrastive_loss (halved) on every backend", arguments: ["2x3", "8x17"])
    func officialValues(_ tag: String) throws {
        try forEachBackend { backend in
            let r = try backend.ntXent(try ContrastiveFixtures.tensor("ntxent_\(tag)_z1", on: backend),
                                       try ContrastiveFixtures.tensor("ntxent_\(tag)_z2", on: backend),
                                       temperature: Float(try ContrastiveFixtures.scalar("ntxent_\(tag)_temperature")))
            try ContrastiveFixtures.expectClose(r.loss, on: backend, "ntxent_\(tag)_loss")
            try ContrastiveFixtures.expectClose(r.dZ1, on: backend, "ntxent_\(tag)_grad_z1")
            try ContrastiveFixtures.expectClose(r.dZ2, on: backend, "ntxent_\(tag)_grad_z2")
        }
    }

    @Test("mismatched views, empty batches and bad temperatures are the same error on every backend")
    func errors() {
        expectSameError(["z1", "(2, 3)", "z2", "(3, 3)"]) { b in
            _ = try b.ntXent(try b.zeros([2, 3]), try b.zeros([3, 3]), temperature: 0.1)
        }
        expectSameError(["z1", "(0, 3)", "empty"]) { b in
            _ = try b.ntXent(try b.zeros([0, 3]), try b.zeros([0, 3]), temperature: 0.1)
        }
        expectSameError(["z2", "matrix"]) { b in _ = try b.ntXent(try b.zeros([2, 3]), try b.zeros([6]), temperature: 0.1) }
        for t: Float in [0, -0.1, .infinity, .nan] {
            expectSameError(["temperature"]) { b in
                _ = try b.ntXent(try b.zeros([2, 3]), try b.zeros([2, 3]), temperature: t)
            }
        }
    }

    @Test("ssl loss ntxent writes the official values on every device, with either algorithm",
          arguments: [[], ["--algorithm", "gemm"]])
    func cli(_ extra: [String]) throws {
        let path: (String) -> String = { Fixtures.path("losses/ntxent_8x17_\($0)") }
        try ContrastiveFixtures.runCLI(["ntxent", "--z1", path("z1"), "--z2", path("z2"), "--temperature", "0.5"] + extra) { out, _ in
            for name in ["loss", "grad_z1", "grad_z2"] {
                try ContrastiveFixtures.expectFile(out + "/\(name).npy", "ntxent_8x17_\(name)")
            }
        }
    }
}
