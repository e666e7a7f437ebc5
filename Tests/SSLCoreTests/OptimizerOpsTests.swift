// The optimizer ops of SSLCore: hand-computed SGD, LARS and AdamW steps on every backend, the
// zero-norm cases of LARS, gradient clipping, OpenCL against the reference on sizes 1, 7, 1000
// and 4099 (over the 64 partial-norm groups), and bad arguments.
import Foundation
import Testing
@testable import SSLCore

@Suite struct OptimizerOpsTests {
    /// Float32 storage of O(1) values after a few operations: a few ulps, ~1e-7; 1e-6 absolute.
    static let handTolerance = 1e-6

    @Test("SGD with momentum: two steps by hand (μ 0.9, wd 0.1, lr 0.1), plain and Nesterov")
    func sgdByHand() throws {
        try forEachBackend { backend in
            for nesterov in [false, true] {
                let p = try backend.upload([1, -2], shape: [2]), buf = try backend.zeros([2])
                let options = SGDOptions(momentum: 0.9, weightDecay: 0.1, nesterov: nesterov)
                var expected: [[Double]] = []
                // Step 1: d_p = g + 0.1·p = [0.5 + 0.1, 0.25 − 0.2] = [0.6, 0.05]; buf = d_p.
                // Plain: p −= 0.1·buf.  Nesterov: p −= 0.1·(d_p + 0.9·buf) = 0.1·[1.14, 0.095].
                expected.append(nesterov ? [1 - 0.114, -2 - 0.0095] : [1 - 0.06, -2 - 0.005])
                // Step 2: g = [−1, 0.5].
                let p1 = expected[0]
                let dp = [-1 + 0.1 * p1[0], 0.5 + 0.1 * p1[1]]
                let b = [0.9 * 0.6 + dp[0], 0.9 * 0.05 + dp[1]]
                let u = nesterov ? [dp[0] + 0.9 * b[0], dp[1] + 0.9 * b[1]] : b
                expected.append([p1[0] - 0.1 * u[0], p1[1] - 0.1 * u[1]])
                #expect(abs(expected[1][0] - (nesterov ? 1.010566 : 0.9766)) < 1e-12)  // the same by hand

                for (g, e) in zip([[0.5, 0.25], [-1, 0.5]] as [[Float]], expected) {
                    try backend.sgdUpdate(p, gradient: try backend.upload(g, shape: [2]), momentumBuffer: buf, lr: 0.1,
                                          options: options)
                    assertClose(try backend.download(p), e, shape: p.shape, expectedShape: [2], rtol: 0,
                                atol: Self.handTolerance, "SGD nesterov=\(nesterov) on \(backend.kind)")
                }
                assertClose(try backend.download(buf), [-0.366 - (nesterov ? 0.0054 : 0), 0.3445 - (nesterov ? 0.00045 : 0)],
                            shape: buf.shape, expectedShape: [2], rtol: 0, atol: Self.handTolerance, "buf")
            }
        }
    }

    @Test("LARS: two adapted steps by hand (η 0.01, wd 0.1, μ 0.9, lr 1) and an unadapted one")
    func larsByHand() throws {
        let options = LARSOptions(momentum: 0.9, weightDecay: 0.1, eta: 0.01)
        try forEachBackend { backend in
            let p = try backend.upload([3, 4], shape: [2]), mu = try backend.zeros([2])
            // Step 1, g = 0: dp = 0.1·[3, 4], ‖p‖ = 5, ‖dp‖ = 0.5, q = 0.01·5/0.5 = 0.1;
            // mu = q·dp = [0.03, 0.04]; p = [2.97, 3.96].
            try backend.larsUpdate(p, gradient: try backend.zeros([2]), momentumBuffer: mu, lr: 1, options: options, adapt: true)
            assertClose(try backend.download(p), [2.97, 3.96], shape: [2], expectedShape: [2], rtol: 0,
                        atol: Self.handTolerance, "LARS step 1 on \(backend.kind)")
            // Step 2, g = [1, −2]: dp = g + 0.1·p.
            let dp = [1 + 0.297, -2 + 0.396]
            let q = 0.01 * (2.97 * 2.97 + 3.96 * 3.96).squareRoot() / (dp[0] * dp[0] + dp[1] * dp[1]).squareRoot()
            let m = [0.9 * 0.03 + q * dp[0], 0.9 * 0.04 + q * dp[1]]
            try backend.larsUpdate(p, gradient: try backend.upload([1, -2], shape: [2]), momentumBuffer: mu, lr: 1,
                                   options: options, adapt: true)
            assertClose(try backend.download(mu), m, shape: [2], expectedShape: [2], rtol: 0, atol: Self.handTolerance, "mu")
            assertClose(try backend.download(p), [2.97 - m[0], 3.96 - m[1]], shape: [2], expectedShape: [2], rtol: 0,
                        atol: Self.handTolerance, "LARS step 2 on \(backend.kind)")

            // Not adapted (a bias): mu = μ·mu + g + wd·b; b −= lr·mu.
            let b = try backend.upload([0.5], shape: [1]), bmu = try backend.upload([0.2], shape: [1])
            try backend.larsUpdate(b, gradient: try backend.upload([0.1], shape: [1]), momentumBuffer: bmu, lr: 0.5,
                                   options: options, adapt: false)
            let bm = 0.9 * 0.2 + 0.1 + 0.1 * 0.5
            assertClose(try backend.download(b), [0.5 - 0.5 * bm], shape: [1], expectedShape: [1], rtol: 0,
                        atol: Self.handTolerance, "LARS bias on \(backend.kind)")
        }
    }

    @Test("AdamW: two steps by hand (lr 0.1, wd 0.01, torch's betas and eps)")
    func adamWByHand() throws {
        let options = AdamWOptions(weightDecay: 0.01)
        try forEachBackend { backend in
            let p = try backend.upload([1, -0.5], shape: [2]), m = try backend.zeros([2]), v = try backend.zeros([2])
            var pe = [1.0, -0.5], me = [0.0, 0.0], ve = [0.0, 0.0]
            for (t, g) in [[0.2, -0.1], [-0.3, 0.4]].enumerated() {
                let step = t + 1
                for i in 0..<2 {
                    pe[i] *= 1 - 0.1 * 0.01
                    me[i] = 0.9 * me[i] + 0.1 * g[i]
                    ve[i] = 0.999 * ve[i] + 0.001 * g[i] * g[i]
                    let mHat = me[i] / (1 - pow(0.9, Double(step))), vHat = ve[i] / (1 - pow(0.999, Double(step)))
                    pe[i] -= 0.1 * mHat / (vHat.squareRoot() + 1e-8)
                }
                if step == 1 { #expect(abs(pe[0] - (0.999 - 0.1)) < 1e-7) }  // m̂/√v̂ = sign(g) at step 1
                try backend.adamWUpdate(p, gradient: try backend.upload(g.map(Float.init), shape: [2]), firstMoment: m,
                                        secondMoment: v, lr: 0.1, step: step, options: options)
                assertClose(try backend.download(p), pe, shape: [2], expectedShape: [2], rtol: 0,
                            atol: Self.handTolerance, "AdamW step \(step) on \(backend.kind)")
            }
            assertClose(try backend.download(m), me, shape: [2], expectedShape: [2], rtol: 0, atol: 1e-8, "m")
            assertClose(try backend.download(v), ve, shape: [2], expectedShape: [2], rtol: 1e-6, atol: 1e-12, "v")
        }
    }

    @Test("LARS zero norms: p = 0 or dp = 0 gives q = 1 and no NaN")
    func larsZeroNorms() throws {
        let options = LARSOptions(momentum: 0.9, weightDecay: 0.1, eta: 0.001)
        try forEachBackend { backend in
            // p = 0: dp = g, q = 1, mu = g, p = −lr·g.
            let p = try backend.zeros([3]), mu = try backend.zeros([3])
            try backend.larsUpdate(p, gradient: try backend.upload([1, -2, 0.5], shape: [3]), momentumBuffer: mu, lr: 0.1,
                                   options: options, adapt: true)
            #expect(try backend.download(mu) == [1, -2, 0.5])
            assertClose(try backend.download(p), [-0.1, 0.2, -0.05], shape: [3], expectedShape: [3], rtol: 0, atol: 1e-7, "p = 0")
            // dp = 0 (g = −wd·p, exact in float32 with wd = 0.5): q = 1, mu = 0, p unchanged.
            var exact = options
            exact.weightDecay = 0.5
            let p2 = try backend.upload([1, 2, 4], shape: [3]), mu2 = try backend.zeros([3])
            try backend.larsUpdate(p2, gradient: try backend.upload([-0.5, -1, -2], shape: [3]), momentumBuffer: mu2,
                                   lr: 0.1, options: exact, adapt: true)
            #expect(try backend.download(mu2) == [0, 0, 0] && backend.download(p2) == [1, 2, 4])
            // Both zero: nothing moves, nothing is NaN.
            let p3 = try backend.zeros([3]), mu3 = try backend.zeros([3])
            try backend.larsUpdate(p3, gradient: try backend.zeros([3]), momentumBuffer: mu3, lr: 0.1, options: options, adapt: true)
            #expect(try backend.download(p3) == [0, 0, 0] && (try backend.download(mu3)) == [0, 0, 0])
        }
        #expect(OptimizerReference.trustRatio(parameterNorm: 0, updateNorm: 2, eta: 0.001) == 1)
        #expect(OptimizerReference.trustRatio(parameterNorm: 2, updateNorm: 0, eta: 0.001) == 1)
    }

    @Test("clipping by the global norm: [3, 4] has norm 5; clipped to 1 or left alone")
    func clipByHand() throws {
        try forEachBackend { backend in
            let a = try backend.upload([3], shape: [1]), b = try backend.upload([0, 4], shape: [1, 2])
            let norm = try backend.globalNorm([a, b])
            #expect(try norm.shape == [] && backend.download(norm) == [5])
            #expect(try backend.download(backend.globalNorm([])) == [0])
            let before = try backend.clipGlobalNorm([a, b], maxNorm: 10)
            #expect(try backend.download(before) == [5] && (try backend.download(a)) == [3])
            _ = try backend.clipGlobalNorm([a, b], maxNorm: 1)
            let c = 1 / (5 + 1e-6)
            assertClose(try backend.download(a) + backend.download(b), [3 * c, 0, 4 * c], shape: [3], expectedShape: [3],
                        rtol: 1e-6, atol: 0, "clipped on \(backend.kind)")
        }
    }
}
