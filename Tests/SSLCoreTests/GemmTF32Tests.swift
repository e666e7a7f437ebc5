// The TF32 GEMM (Kernels/gemm_tf32.cl). Here its mma is emulated (PoCL has no inline PTX), which
// checks the tiling, fragment indexing, edges, transposes, alpha, beta and the TF32 rounding
// against a Double reference at TF32's tolerance; and opting into it off NVIDIA is an error.
import Foundation
import Testing
@testable import SSLCore

@Suite(.enabled(if: TestBackends.hasOpenCL)) struct GemmTF32Tests {
    /// (M, N, K): 1, primes and sizes off both tile grids (32 and 128), K off the 8- and 16-wide slices.
    static let shapes: [(Int, Int, Int)] = [(1, 1, 1), (7, 13, 5), (33, 65, 17), (130, 129, 37)]

    @Test("emulated TF32 GEMM: every transpose, alpha and beta, within 2⁻⁹·Σ|a||b| of Double",
          arguments: Oclgrind.cases(shapes, limit: 10_000) { $0.0 * $0.1 * $0.2 })
    func matchesDouble(_ s: (Int, Int, Int)) throws {
        let cl = TestBackends.openCL!
        let (m, n, k) = s
        var rng = SeededRandom(seed: UInt64(m * 7 + n * 3 + k))
        let a = rng.uniform(m * k), b = rng.uniform(k * n), c0 = rng.uniform(m * n)
        for (transposeA, transposeB) in [(false, false), (true, false), (false, true), (true, true)] {
            // Stored as op() needs: Aᵀ is (K, M), Bᵀ is (N, K).
            let aStored = transposeA ? transpose(a, rows: m, cols: k) : a
            let bStored = transposeB ? transpose(b, rows: k, cols: n) : b
            for (tiles, alpha, beta) in [(TF32Tiles.standard, Float(1), Float(0)), (.small, 0.5, 0.75)] {
                let c = try cl.upload(beta == 0 ? [Float](repeating: .nan, count: m * n) : c0, shape: [m, n])
                try cl.gemmTF32(try cl.upload(aStored, shape: transposeA ? [k, m] : [m, k]),
                                try cl.upload(bStored, shape: transposeB ? [n, k] : [k, n]),
                                transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: beta, into: c, tiles: tiles)
                let worst = Self.worstError(try cl.download(c), a: a, b: b, c0: c0, m: m, n: n, k: k, alpha: alpha, beta: beta)
                #expect(worst <= 1, "\(s) T\(transposeA)\(transposeB) \(tiles) α \(alpha) β \(beta): \(worst)× the bound")
            }
        }
    }

    /// The largest error of `got` = alpha·A·B + beta·C0 against the Double product, as a multiple
    /// of TF32's bound; infinity where `got` is not finite. TF32 rounds each input by ≤ 2⁻¹¹
    /// (products ≤ 2⁻¹⁰ off); float32 sums add ~K·2⁻²⁴.
    static func worstError(_ got: [Float], a: [Float], b: [Float], c0: [Float], m: Int, n: Int, k: Int,
                           alpha: Float, beta: Float) -> Double {
        guard got.allSatisfy(\.isFinite) else { return .infinity }
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var exact = 0.0, magnitude = 0.0
                for p in 0..<k {
                    exact += Double(a[i * k + p]) * Double(b[p * n + j])
                    magnitude += abs(Double(a[i * k + p]) * Double(b[p * n + j]))
                }
                let expected = Double(alpha) * exact + (beta == 0 ? 0 : Double(beta) * Double(c0[i * n + j]))
                let bound = 0x1p-9 * Double(abs(alpha)) * magnitude + 1e-6
                worst = max(worst, abs(Double(got[i * n + j]) - expected) / bound)
            }
        }
        return worst
    }

    @Test("inputs are rounded to TF32 (10-bit mantissa, to nearest, ties away from zero)")
    func roundsToTF32() throws {
        let cl = TestBackends.openCL!
        // 1 + 2⁻¹² rounds down to 1, 1 + 3·2⁻¹² up to 1 + 2⁻¹⁰, 1 + 2⁻¹¹ (a tie) away from zero.
        let a: [Float] = [1 + 0x1p-12, 1 + 3 * 0x1p-12, -(1 + 0x1p-11)], b: [Float] = [1]
        let c = try cl.zeros([3, 1])
        try cl.gemmTF32(try cl.upload(a, shape: [3, 1]), try cl.upload(b, shape: [1, 1]), transposeA: false, transposeB: false,
                        alpha: 1, beta: 0, into: c, tiles: .small)
        #expect(try cl.download(c) == [1, 1 + 0x1p-10, -(1 + 0x1p-10)])
    }

    @Test("opting into TF32 off NVIDIA is an error naming the device and the way back",
          .enabled(if: TestBackends.openCL?.device.acceptsInlinePTX == false))
    func refusedOffNVIDIA() throws {
        let cl = TestBackends.openCL!
        let tf32 = OpenCLBackend(context: cl.context, kernels: KernelChoices(gemm: .tf32))
        let x = try cl.zeros([2, 2])
        let error = #expect(throws: SSLError.self) { _ = try tf32.matmul(x, x) }
        #expect(error?.description.contains("needs NVIDIA's OpenCL driver; \(cl.device.name)") == true, "\(String(describing: error))")
        #expect(error?.description.contains("use the default (clblast)") == true, "\(String(describing: error))")
        #expect(try KernelChoices(environment: ["SSL_GEMM": "tf32"]).gemm == .tf32)
        #expect(throws: SSLError.self) { try KernelChoices(environment: ["SSL_GEMM": "tf32"]).check(on: cl.device) }
    }

    @Test("TF32 needs NVIDIA's compiler and compute capability 8.0: sm_75 and a missing capability are refused by name")
    func computeCapability() {
        func problem(_ ptx: Bool, _ capability: ComputeCapability?) -> String? {
            OpenCLDeviceInfo.tf32Problem(acceptsInlinePTX: ptx, computeCapability: capability, device: "GPU X")
        }
        #expect(problem(true, ComputeCapability(major: 8, minor: 0)) == nil)
        #expect(problem(true, ComputeCapability(major: 9, minor: 0)) == nil)
        #expect(problem(true, ComputeCapability(major: 7, minor: 5))?.contains("8.0 or later (Ampere); GPU X has 7.5") == true)
        #expect(problem(true, nil)?.contains("does not report one") == true)
        #expect(problem(false, ComputeCapability(major: 9, minor: 0))?.contains("needs NVIDIA's OpenCL driver; GPU X") == true)
        #expect(ComputeCapability(major: 8, minor: 6) > ComputeCapability(major: 8, minor: 0))
    }

    @Test("kernel choices from the environment: names, auto, and an error listing the valid values")
    func choicesFromEnvironment() throws {
        let choices = try KernelChoices(environment: ["SSL_SINKHORN": "two-pass", "SSL_KNN": "UNFUSED", "SSL_GEMM": "auto"])
        #expect(choices == KernelChoices(sinkhorn: .twoPass, knn: .unfused, gemm: nil))
        #expect(try KernelChoices(environment: ["SSL_GEMM": "BLAS"]).gemm == .blas)
        #expect(try KernelChoices(environment: [:]) == KernelChoices())
        let error = #expect(throws: SSLError.self) { _ = try KernelChoices(environment: ["SSL_KNN": "fast"]) }
        #expect(error?.description == "SSL_KNN: 'fast' is not one of fused, unfused, auto")
        let gemm = #expect(throws: SSLError.self) { _ = try KernelChoices(environment: ["SSL_GEMM": "mkl"]) }
        #expect(gemm?.description == "SSL_GEMM: 'mkl' is not one of clblast, blas, tf32, auto")
    }
}

private func transpose(_ x: [Float], rows: Int, cols: Int) -> [Float] {
    (0..<(rows * cols)).map { e in x[(e % rows) * cols + e / rows] }
}
