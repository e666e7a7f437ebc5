// GEMM on both backends: NumPy float64 fixtures, OpenCL vs reference parity, alpha/beta, errors.
import Testing
@testable import SSLCore

/// Normwise tolerance: |Δ| ≤ rtol·max|C|. Float32 dot products of length K carry a rounding
/// error of about √K·2⁻²⁴·max|C| (random signs), well under 1e-5·max|C| for the K used here.
private let gemmRelative = 1e-5

private func maxAbs(_ values: [Double]) -> Double { values.map(abs).max() ?? 0 }

@Suite struct GemmTests {
    static let fixtureCases: [(Int, Int, Int, Bool, Bool)] = [(1, 1, 1), (7, 13, 5), (33, 65, 17)].flatMap { s in
        [(false, false), (false, true), (true, false), (true, true)].map { (s.0, s.1, s.2, $0.0, $0.1) }
    }

    @Test("matches NumPy float64 for all transposes", arguments: fixtureCases)
    func matchesNumPy(_ c: (Int, Int, Int, Bool, Bool)) throws {
        let tag = "gemm_\(c.0)x\(c.1)x\(c.2)_\(c.3 ? "T" : "N")\(c.4 ? "T" : "N")"
        let a = try Fixtures.floats(tag + "_a"), b = try Fixtures.floats(tag + "_b")
        let expected = try Fixtures.doubles(tag + "_c")
        try forEachBackend { backend in
            let out = try backend.matmul(try backend.upload(a.values, shape: a.shape),
                                         try backend.upload(b.values, shape: b.shape),
                                         transposeA: c.3, transposeB: c.4, alpha: 0.5)
            assertClose(try backend.download(out), expected.values, shape: out.shape, expectedShape: expected.shape,
                        rtol: 0, atol: gemmRelative * maxAbs(expected.values), "\(tag) on \(backend.name)")
        }
    }

    /// 1×1, primes, powers of two and sizes off every CLBlast tile; the last one is large enough
    /// for CLBlast's indirect (padded, tiled) kernel rather than the direct one.
    static let shapes: [(Int, Int, Int)] = [(1, 1, 1), (7, 13, 5), (33, 65, 17), (64, 64, 64), (129, 31, 257), (2, 97, 1), (513, 257, 385)]

    /// The GEMMs the test device can run: CLBlast everywhere, the host BLAS on a CPU device that
    /// runs native kernels (where it is the default, so CLBlast is forced here to stay checked).
    static var variants: [GemmVariant] {
        guard let device = TestBackends.openCL?.device else { return [] }
        return GemmVariant.automatic(for: device) == .blas ? [.clblast, .blas] : [.clblast]
    }

    @Test("OpenCL matches the reference", .enabled(if: TestBackends.hasOpenCL), arguments: Oclgrind.cases(shapes, limit: 40_000) { $0.0 * $0.1 * $0.2 }, variants)
    func parity(_ s: (Int, Int, Int), variant: GemmVariant) throws {
        let cl = OpenCLBackend(context: TestBackends.openCL!.context, kernels: KernelChoices(gemm: variant))
        let ref = TestBackends.reference
        var rng = SeededRandom(seed: UInt64(s.0 * 1_000_003 + s.1 * 1009 + s.2))
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let aShape = ta ? [s.2, s.0] : [s.0, s.2], bShape = tb ? [s.1, s.2] : [s.2, s.1]
            let av = rng.uniform(s.0 * s.2), bv = rng.uniform(s.2 * s.1), cv = rng.uniform(s.0 * s.1)
            var results: [[Float]] = []
            for backend in [ref, cl] as [any Backend] {
                let c = try backend.upload(cv, shape: [s.0, s.1])
                try backend.gemm(try backend.upload(av, shape: aShape), try backend.upload(bv, shape: bShape),
                                 transposeA: ta, transposeB: tb, alpha: 1.5, beta: -0.75, into: c)
                results.append(try backend.download(c))
            }
            let expected = results[0].map(Double.init)
            assertClose(results[1], expected, shape: [s.0, s.1], expectedShape: [s.0, s.1], rtol: 0,
                        atol: gemmRelative * maxAbs(expected), "gemm \(variant) \(s) ta \(ta) tb \(tb)")
        }
    }

    /// C of `beta` 0 is usually a fresh or pooled buffer: whatever it holds must not reach the
    /// result (BLAS semantics), or a NaN left there by an earlier op would survive as 0 · NaN.
    @Test("beta 0 overwrites NaN and Inf in C, on every GEMM and the TF32 kernel's emulation", .enabled(if: TestBackends.hasOpenCL),
          arguments: [(1, 1, 1), (7, 13, 5), (33, 65, 17)])
    func betaZeroIgnoresC(_ s: (Int, Int, Int)) throws {
        let ref = TestBackends.reference
        var rng = SeededRandom(seed: UInt64(s.0 + s.1 + s.2))
        let av = rng.uniform(s.0 * s.2), bv = rng.uniform(s.2 * s.1)
        let poison = (0..<(s.0 * s.1)).map { [Float.nan, .infinity, -.infinity][$0 % 3] }
        func product(_ backend: any Backend, _ gemm: (Tensor, Tensor, Tensor) throws -> Void) throws -> [Float] {
            let c = try backend.upload(poison, shape: [s.0, s.1])
            try gemm(try backend.upload(av, shape: [s.0, s.2]), try backend.upload(bv, shape: [s.2, s.1]), c)
            return try backend.download(c)
        }
        let expected = try product(ref) { a, b, c in
            try ref.gemm(a, b, transposeA: false, transposeB: false, alpha: 1, beta: 0, into: c)
        }.map(Double.init)
        for variant in Self.variants {
            let cl = OpenCLBackend(context: TestBackends.openCL!.context, kernels: KernelChoices(gemm: variant))
            let actual = try product(cl) { a, b, c in
                try cl.gemm(a, b, transposeA: false, transposeB: false, alpha: 1, beta: 0, into: c)
            }
            assertClose(actual, expected, shape: [s.0, s.1], expectedShape: [s.0, s.1], rtol: 0,
                        atol: gemmRelative * maxAbs(expected), "gemm \(variant) \(s)")
        }
        let cl = TestBackends.openCL!
        let emulated = try product(cl) { a, b, c in
            try cl.gemmTF32(a, b, transposeA: false, transposeB: false, alpha: 1, beta: 0, into: c, tiles: .small, emulate: true)
        }
        assertClose(emulated, expected, shape: [s.0, s.1], expectedShape: [s.0, s.1], rtol: 0,
                    atol: 4e-3 * maxAbs(expected) * Double(s.2), "TF32 emulated \(s)")
    }

    @Test("the host-BLAS GEMM: A and B one buffer (Z·Zᵀ), C written in place over pooled buffers, refused where it cannot run",
          .enabled(if: TestBackends.hasOpenCL))
    func hostBLAS() throws {
        let device = TestBackends.openCL!
        let blas = OpenCLBackend(context: device.context, kernels: KernelChoices(gemm: .blas))
        guard GemmVariant.automatic(for: device.device) == .blas else {
            let error = #expect(throws: SSLError.self) { _ = try blas.matmul(try blas.zeros([2, 2]), try blas.zeros([2, 2])) }
            #expect(error?.description.contains("SSL_GEMM=blas") == true, "\(String(describing: error))")
            return
        }
        var rng = SeededRandom(seed: 8)
        let zv = rng.uniform(37 * 11)
        let ref = TestBackends.reference
        // The same buffer as A and B, several GEMMs queued before one read, sizes that reuse pooled buffers.
        let z = try blas.upload(zv, shape: [37, 11]), zr = try ref.upload(zv, shape: [37, 11])
        var outputs: [Tensor] = []
        for _ in 0..<3 { outputs.append(try blas.matmul(z, z, transposeB: true)) }
        let expected = try ref.download(try ref.matmul(zr, zr, transposeB: true)).map(Double.init)
        for out in outputs {
            assertClose(try blas.download(out), expected, shape: out.shape, expectedShape: [37, 37], rtol: 0,
                        atol: gemmRelative * maxAbs(expected), "Z·Zᵀ on the host BLAS")
        }
        #expect(blas.gemmDescription.contains("host BLAS"), "\(blas.gemmDescription)")
    }

    @Test("beta = 0 never reads C, even when it holds NaN")
    func betaZeroIgnoresC() throws {
        try forEachBackend { backend in
            let a = try backend.upload([1, 2, 3, 4], shape: [2, 2])
            let c = try backend.upload([Float](repeating: .nan, count: 4), shape: [2, 2])
            try backend.gemm(a, a, transposeA: false, transposeB: false, alpha: 1, beta: 0, into: c)
            #expect(try backend.download(c) == [7, 10, 15, 22], "\(backend.name)")
        }
    }

    @Test("shape mismatch names both shapes")
    func shapeMismatch() throws {
        try forEachBackend { backend in
            let a = try backend.zeros([2, 3]), b = try backend.zeros([4, 5])
            let error = #expect(throws: SSLError.self) { try backend.matmul(a, b) }
            #expect(error?.description.contains("(2, 3)") == true && error?.description.contains("(4, 5)") == true,
                    "\(error?.description ?? "")")
            #expect(throws: SSLError.self) { try backend.matmul(try backend.zeros([3]), b) }
            let c = try backend.zeros([2, 2])
            #expect(throws: SSLError.self) {
                try backend.gemm(a, a, transposeA: false, transposeB: true, alpha: 1, beta: 0, into: c.reshaped([4, 1]))
            }
        }
    }

    @Test("a tensor of another backend is refused", .enabled(if: TestBackends.hasOpenCL))
    func wrongBackend() throws {
        let host = try TestBackends.reference.zeros([2, 2])
        let cl = TestBackends.openCL!
        let error = #expect(throws: SSLError.self) { try cl.matmul(host, host) }
        #expect(error?.description.contains("reference") == true)
    }
}
