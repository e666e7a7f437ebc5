// axpby, copy, the L2-normalisation gradient and soft-target cross-entropy.
import Foundation
import Testing
@testable import SSLCore

@Suite struct ElementwiseTests {
    @Test("L2-normalisation backward matches finite differences", arguments: [(1, 1), (3, 5), (4, 17)])
    func l2NormalizeGradient(_ s: (Int, Int)) {
        var rng = SeededRandom(seed: UInt64(s.0 * 100 + s.1))
        let x = rng.doubles(s.0 * s.1, scale: 2), w = rng.doubles(s.0 * s.1)
        let dx = L2Normalize.backward(x: x, dY: w, rows: s.0, cols: s.1, eps: 1e-12)
        checkGradient("l2Normalize \(s)", at: x, analytic: dx) {
            dot(w, L2Normalize.forward($0, rows: s.0, cols: s.1, eps: 1e-12))
        }
    }

    @Test("soft cross-entropy gradient matches finite differences", arguments: [Double(1), 10])
    func crossEntropyGradient(_ scale: Double) {
        var rng = SeededRandom(seed: 11)
        let (n, c) = (5, 7)
        let x = rng.doubles(n * c)
        // Unnormalised soft targets and one hard label row.
        var t = rng.doubles(n * c).map { abs($0) }
        for j in 0..<c { t[j] = j == 3 ? 1 : 0 }
        let r = SoftCrossEntropy.evaluate(logits: x, targets: t, rows: n, cols: c, scale: scale)
        checkGradient("softCrossEntropy scale \(scale)", at: x, analytic: r.dLogits) {
            SoftCrossEntropy.evaluate(logits: $0, targets: t, rows: n, cols: c, scale: scale).loss
        }
        // One-hot row: the usual −log softmax.
        let onlyFirst = SoftCrossEntropy.evaluate(logits: Array(x[0..<c]), targets: Array(t[0..<c]), rows: 1, cols: c, scale: scale)
        let z = x[0..<c].map { $0 * scale }
        #expect(abs(onlyFirst.loss - (logSumExp(Array(z)) - z[3])) < 1e-12)
    }

    static let shapes: [(Int, Int)] = [(1, 1), (2, 3), (7, 13), (33, 65), (129, 300)]

    @Test("OpenCL matches the reference", .enabled(if: TestBackends.hasOpenCL),
          arguments: Oclgrind.cases(shapes) { $0.0 * $0.1 })
    func parity(_ s: (Int, Int)) throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        var rng = SeededRandom(seed: UInt64(s.0 * 7 + s.1))
        let x = rng.uniform(s.0 * s.1, scale: 3), dy = rng.uniform(s.0 * s.1)
        let t = rng.uniform(s.0 * s.1).map { abs($0) }
        var outputs: [[Tensor]] = []
        for backend in [ref, cl] as [any Backend] {
            let xt = try backend.upload(x, shape: [s.0, s.1]), dyt = try backend.upload(dy, shape: [s.0, s.1])
            let y = try backend.copy(dyt)
            try backend.axpby(xt, alpha: 0.25, beta: 0.75, into: y)
            let ce = try backend.softCrossEntropy(xt, targets: try backend.upload(t, shape: [s.0, s.1]), scale: 10)
            outputs.append([y, try backend.l2NormalizeBackward(xt, dyt, eps: 1e-12), ce.loss, ce.dLogits])
        }
        for (i, name) in ["axpby", "l2NormalizeBackward", "cross-entropy loss", "cross-entropy dLogits"].enumerated() {
            try assertClose(outputs[1][i], on: cl, outputs[0][i], on: ref, rtol: 1e-4, atol: 1e-5, "\(name) \(s)")
        }
    }

    @Test("axpby with beta 0 does not read y: NaN and Inf there are overwritten, as in BLAS")
    func axpbyBetaZeroIgnoresY() throws {
        try forEachBackend { backend in
            let y = try backend.upload([.nan, .infinity, -.infinity], shape: [3])
            try backend.axpby(try backend.upload([1, 2, 3], shape: [3]), alpha: 2, beta: 0, into: y)
            #expect(try backend.download(y) == [2, 4, 6], "\(backend.kind)")
        }
    }

    @Test("copy is independent of its source; mismatched shapes are errors")
    func copyAndShapes() throws {
        try forEachBackend { backend in
            let x = try backend.upload([1, 2, 3], shape: [3])
            let y = try backend.copy(x)
            try backend.axpby(x, alpha: 1, beta: 1, into: x)
            #expect(try backend.download(y) == [1, 2, 3] && backend.download(x) == [2, 4, 6])
            let batch = try backend.upload((0..<24).map(Float.init), shape: [4, 2, 3])
            let middle = try backend.rows(batch, 1..<3)
            #expect(middle.shape == [2, 2, 3])
            #expect(try backend.download(middle) == (6..<18).map(Float.init))
            #expect(throws: SSLError.self) { _ = try backend.rows(batch, 3..<5) }
            // concatenateRows undoes rows, at any rank; parts of one row, primes, a lone part.
            for (sizes, inner) in [([1, 1], [3]), ([2, 5, 3], [2, 3]), ([7], [1]), ([1, 13, 2], [])] as [([Int], [Int])] {
                let width = inner.reduce(1, *), total = sizes.reduce(0, +)
                let whole = try backend.upload((0..<(total * width)).map { Float($0) * 0.5 - 3 }, shape: [total] + inner)
                var start = 0
                let parts = try sizes.map { n in defer { start += n }; return try backend.rows(whole, start..<(start + n)) }
                let joined = try backend.concatenateRows(parts)
                let (got, expected) = (try backend.download(joined), try backend.download(whole))
                #expect(joined.shape == whole.shape && got == expected, "\(sizes) × \(inner) on \(backend.name)")
            }
            for bad in [[], [try backend.zeros([2, 3]), try backend.zeros([2, 4])], [try backend.zeros([2, 3]), try backend.zeros([6])]] {
                #expect(throws: SSLError.self) { _ = try backend.concatenateRows(bad) }
            }
            let nan = try backend.upload([.nan, .infinity, 1], shape: [3])
            try backend.fill(nan, with: 0)
            #expect(try backend.download(nan) == [0, 0, 0])
            #expect(throws: SSLError.self) { try backend.axpby(x, alpha: 1, beta: 1, into: try backend.zeros([4])) }
            #expect(throws: SSLError.self) {
                _ = try backend.softCrossEntropy(try backend.zeros([2, 3]), targets: try backend.zeros([3, 2]), scale: 1)
            }
        }
    }
}
