// Batch normalisation and the Barlow Twins cross-correlation on both backends.
import Foundation
import Testing
@testable import SSLCore

/// C entries are means of N products of unit-variance values, |C| ≤ 1. Float32 statistics and
/// dot products leave errors of a few 1e-7 at these N; 1e-4 is the bound for xcorr.
private let xcorrTolerance = 1e-4

@Suite struct BatchNormTests {
    @Test("cross-correlation matches NumPy float64 (Barlow Twins formula)", arguments: ["2x3", "13x7", "64x33"])
    func crossCorrelationMatchesNumPy(_ tag: String) throws {
        let z1 = try Fixtures.floats("xcorr_\(tag)_z1"), z2 = try Fixtures.floats("xcorr_\(tag)_z2")
        let expected = try Fixtures.doubles("xcorr_\(tag)_c")
        try forEachBackend { backend in
            let c = try backend.crossCorrelation(try backend.upload(z1.values, shape: z1.shape),
                                                 try backend.upload(z2.values, shape: z2.shape), eps: 1e-5)
            assertClose(try backend.download(c), expected.values, shape: c.shape, expectedShape: expected.shape,
                        rtol: xcorrTolerance, atol: xcorrTolerance, "xcorr \(tag) on \(backend.name)")
        }
    }

    static let shapes: [(Int, Int)] = [(1, 1), (2, 1), (7, 13), (33, 65), (64, 128), (257, 31), (100, 300)]

    @Test("OpenCL batch norm and cross-correlation match the reference", .enabled(if: TestBackends.hasOpenCL),
          arguments: Oclgrind.cases(shapes) { max($0.0 * $0.1, $0.1 * $0.1) })
    func parity(_ s: (Int, Int)) throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        var rng = SeededRandom(seed: UInt64(s.0 * 7919 + s.1))
        // An offset and a scale per column, so the mean and variance paths both matter.
        let v1 = rng.uniform(s.0 * s.1, scale: 3).enumerated().map { $0.element + Float($0.offset % s.1) * 0.25 }
        let v2 = rng.uniform(s.0 * s.1)
        var outputs: [(BatchNormResult, Tensor)] = []
        for backend in [ref, cl] as [any Backend] {
            let z1 = try backend.upload(v1, shape: [s.0, s.1]), z2 = try backend.upload(v2, shape: [s.0, s.1])
            outputs.append((try backend.standardizeColumns(z1, eps: 1e-5), try backend.crossCorrelation(z1, z2, eps: 1e-5)))
        }
        let (r, c) = (outputs[0], outputs[1])
        try assertClose(c.0.y, on: cl, r.0.y, on: ref, rtol: 1e-4, atol: 1e-4, "batch norm y \(s)")
        try assertClose(c.0.mean, on: cl, r.0.mean, on: ref, rtol: 1e-5, atol: 1e-5, "batch norm mean \(s)")
        try assertClose(c.0.rstd, on: cl, r.0.rstd, on: ref, rtol: 1e-4, atol: 1e-4, "batch norm rstd \(s)")
        try assertClose(c.1, on: cl, r.1, on: ref, rtol: xcorrTolerance, atol: xcorrTolerance, "xcorr \(s)")
    }

    @Test("batch norm is BatchNorm1d in training mode: zero mean, unit biased variance")
    func normalizes() throws {
        try forEachBackend { backend in
            let x = try backend.upload([1, 10, 2, 20, 3, 30, 6, 60], shape: [4, 2])
            let r = try backend.standardizeColumns(x, eps: 0)
            let y = try backend.download(r.y)
            for j in 0..<2 {
                let column = stride(from: j, to: 8, by: 2).map { Double(y[$0]) }
                let mean = column.reduce(0, +) / 4
                let variance = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 4
                #expect(abs(mean) < 1e-6 && abs(variance - 1) < 1e-5, "\(backend.name) column \(j)")
            }
            #expect(try backend.download(r.mean) == [3, 30])
        }
    }

    @Test("mismatched z1 and z2 name both shapes")
    func shapeMismatch() throws {
        forEachBackend { backend in
            let error = #expect(throws: SSLError.self) {
                try backend.crossCorrelation(try backend.zeros([4, 3]), try backend.zeros([4, 5]), eps: 1e-5)
            }
            #expect(error?.description.contains("(4, 3)") == true && error?.description.contains("(4, 5)") == true)
            #expect(throws: SSLError.self) { try backend.standardizeColumns(try backend.zeros([5]), eps: 1e-5) }
        }
    }
}
