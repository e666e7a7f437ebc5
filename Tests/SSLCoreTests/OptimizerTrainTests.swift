// The optimizer types of SSLTrain: three-step trajectories against PyTorch and the official LARS
// (Tests/Fixtures/optim/optim.py), torch's and DINO's clipping, the bias/norm groups, skipping,
// exact state round trips, and bad arguments.
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

@Suite struct OptimizerTrainTests {
    /// Float32 against float64 PyTorch: inputs are exact, each step adds a few ulps (~1e-7) and
    /// LARS's float32 norms ~1e-7 relative; 2e-6 of an array's largest magnitude leaves margin
    /// and stays far below every term of the formulas (the smallest, AdamW's decoupled decay
    /// lr·wd·p, moves w by ~6e-4).
    static let fixtureTolerance = 2e-6

    /// Runs `make`'s optimizer for the fixtures' three steps and compares parameters and `slots`.
    private func expectTrajectory(_ fixture: String, slots: [String], _ make: ([Parameter], any Backend) throws -> any Optimizer)
        throws {
        let lrs = try OptimFixtures.expected("\(fixture)_lr").values
        try forEachBackend { backend in
            let model = try OptimFixtures.model(on: backend)
            let optimizer = try make(model, backend)
            for (t, lr) in lrs.enumerated() {
                try OptimFixtures.setGradients(model, step: t, on: backend)
                try optimizer.step(lr: lr)
                for p in model {
                    let e = OptimFixtures.row(try OptimFixtures.expected("\(fixture)_\(p.name)"), t)
                    try OptimFixtures.expectMatches(p.value, on: backend, e, rtol: Self.fixtureTolerance, "\(fixture) \(p.name) step \(t)")
                    for slot in slots {
                        let s = OptimFixtures.row(try OptimFixtures.expected("\(fixture)_\(p.name)_\(slot)"), t)
                        try OptimFixtures.expectMatches(try OptimFixtures.entry(optimizer, "\(p.name).\(slot)"), on: backend, s,
                                                        rtol: Self.fixtureTolerance, "\(fixture) \(p.name).\(slot) step \(t)")
                    }
                }
            }
            #expect(optimizer.stepCount == 3)
        }
    }

    @Test("SGD matches torch.optim.SGD: Nesterov with the bias excluded from decay, and decay on all")
    func sgdFixtures() throws {
        try expectTrajectory("sgd_nesterov", slots: ["momentum_buffer"]) {
            try SGD(parameters: $0, options: SGDOptions(momentum: 0.9, weightDecay: 0.01, nesterov: true), on: $1)
        }
        try expectTrajectory("sgd_decay_all", slots: ["momentum_buffer"]) {
            try SGD(parameters: $0, options: SGDOptions(momentum: 0.9, weightDecay: 0.05), excludeBiasAndNormFromDecay: false, on: $1)
        }
    }

    @Test("LARS matches the official Barlow Twins class, both filters on, biases at 0.0048/0.2 of the lr")
    func larsFixture() throws {
        try expectTrajectory("lars", slots: ["mu"]) {
            try LARS(parameters: $0, options: LARSOptions(weightDecay: 0.05), biasAndNormLRScale: 0.0048 / 0.2, on: $1)
        }
    }

    @Test("AdamW matches torch.optim.AdamW with the bias excluded from decay")
    func adamWFixture() throws {
        try expectTrajectory("adamw", slots: ["exp_avg", "exp_avg_sq"]) { model, backend in
            let adamw = try AdamW(parameters: model, options: AdamWOptions(weightDecay: 0.04), on: backend)
            return adamw
        }
        let backend = TestBackends.reference
        let adamw = try AdamW(parameters: try OptimFixtures.model(on: backend), on: backend)
        try adamw.step(lr: 1e-2)
        try adamw.step(lr: 1e-2)
        #expect(try backend.download(OptimFixtures.entry(adamw, "w.step")) == [2] && adamw.parameterSteps == [2, 2])
    }

    @Test("clipping matches torch's clip_grad_norm_ and DINO's clip_gradients (clip 3.0)")
    func clipFixtures() throws {
        try forEachBackend { backend in
            let model = try OptimFixtures.model(on: backend)
            try OptimFixtures.setGradients(model, step: 0, on: backend)
            let norm = try backend.clipGradientNorm(of: model, maxNorm: 3)
            try OptimFixtures.expectMatches(norm, on: backend, try OptimFixtures.expected("clip_norm"), rtol: 1e-6, "clip norm")
            for p in model {
                try OptimFixtures.expectMatches(p.gradient, on: backend, try OptimFixtures.expected("clip_\(p.name)"),
                                                rtol: 1e-6, "clipped \(p.name)")
            }
            try OptimFixtures.setGradients(model, step: 0, on: backend)
            let norms = try backend.clipGradientNormPerParameter(of: model, maxNorm: 3)
            let expectedNorms = try OptimFixtures.expected("dinoclip_norms").values
            assertClose(try norms.flatMap { try backend.download($0) }, expectedNorms, shape: [2], expectedShape: [2],
                        rtol: 1e-6, atol: 0, "DINO norms on \(backend.kind)")
            for p in model {
                try OptimFixtures.expectMatches(p.gradient, on: backend, try OptimFixtures.expected("dinoclip_\(p.name)"),
                                                rtol: 1e-6, "DINO-clipped \(p.name)")
            }
        }
    }

    @Test("LARS: a bias/BN parameter is never adapted, and decayed only when not excluded")
    func larsExclusion() throws {
        let options = LARSOptions(momentum: 0.9, weightDecay: 0.5, eta: 0.01)
        try forEachBackend { backend in
            for exclude in [true, false] {
                let w = try Parameter(name: "conv.weight", values: [3, 4], shape: [1, 2], isBiasOrNorm: false, on: backend)
                let bn = try Parameter(name: "bn.weight", values: [1, -1], shape: [2], isBiasOrNorm: true, on: backend)
                let lars = try LARS(parameters: [w, bn], options: options, excludeBiasAndNormFromDecay: exclude,
                                    biasAndNormLRScale: 0.5, on: backend)
                try OptimFixtures.setGradient(w, [0.5, 0], on: backend)
                try OptimFixtures.setGradient(bn, [0.25, 0.5], on: backend)
                try lars.step(lr: 0.2)
                // The weight: dp = g + 0.5·w = [2, 2], q = 0.01·5/√8; decay is never excluded for weights.
                let q = 0.01 * 5 / 8.0.squareRoot()
                assertClose(try backend.download(w.value), [3 - 0.2 * 2 * q, 4 - 0.2 * 2 * q], shape: w.shape, expectedShape: [1, 2],
                            rtol: 0, atol: 1e-6, "weight, exclude=\(exclude), on \(backend.kind)")
                // The BN scale: q = 1; dp = g (+ 0.5·bn unless excluded); lr·0.5.
                let dp = exclude ? [0.25, 0.5] : [0.25 + 0.5, 0.5 - 0.5]
                assertClose(try backend.download(bn.value), [1 - 0.1 * dp[0], -1 - 0.1 * dp[1]], shape: bn.shape,
                            expectedShape: [2], rtol: 0, atol: 1e-6, "bn, exclude=\(exclude), on \(backend.kind)")
            }
        }
    }

    @Test("SGD and AdamW leave bias/BN parameters undecayed unless told otherwise")
    func decayExclusion() throws {
        try forEachBackend { backend in
            for exclude in [true, false] {
                let b = try Parameter(name: "fc.bias", values: [2], shape: [1], isBiasOrNorm: true, on: backend)
                let sgd = try SGD(parameters: [b], options: SGDOptions(momentum: 0, weightDecay: 0.5),
                                  excludeBiasAndNormFromDecay: exclude, on: backend)
                try sgd.step(lr: 0.1)  // g = 0: only the decay moves b
                #expect(abs(try backend.download(b.value)[0] - (exclude ? 2 : 2 - 0.1 * 0.5 * 2)) < 1e-6)
                let a = try Parameter(name: "ln.bias", values: [2], shape: [1], isBiasOrNorm: true, on: backend)
                let adamw = try AdamW(parameters: [a], options: AdamWOptions(weightDecay: 0.5),
                                      excludeBiasAndNormFromDecay: exclude, on: backend)
                try adamw.step(lr: 0.1)
                #expect(abs(try backend.download(a.value)[0] - (exclude ? 2 : 2 * (1 - 0.1 * 0.5))) < 1e-6)
            }
        }
    }

    @Test("AdamW: a skipped parameter keeps its value and step count; its first step later uses t = 1")
    func adamWSkipping() throws {
        try forEachBackend { backend in
            let model = try OptimFixtures.model(on: backend)
            let adamw = try AdamW(parameters: model, options: AdamWOptions(weightDecay: 0.04), on: backend)
            try OptimFixtures.setGradients(model, step: 0, on: backend)
            let b0 = try backend.download(model[1].value)
            try adamw.step(lr: 1e-2, skipping: ["b"])
            #expect(try backend.download(model[1].value) == b0 && adamw.parameterSteps == [1, 0])
            try adamw.step(lr: 1e-2)
            #expect(adamw.parameterSteps == [2, 1] && adamw.stepCount == 2)
            // b's first update equals the fixture's first AdamW step (same gradient, lr, t = 1).
            let e = OptimFixtures.row(try OptimFixtures.expected("adamw_b"), 0)
            try OptimFixtures.expectMatches(model[1].value, on: backend, e, rtol: Self.fixtureTolerance, "b after skipping")
            #expect(throws: SSLError.self) { try adamw.step(lr: 1e-2, skipping: ["nope"]) }
        }
    }

    @Test("export then restore gives the identical next step", arguments: ["SGD", "LARS", "AdamW"])
    func stateRoundTrip(_ kind: String) throws {
        func make(_ model: [Parameter], _ backend: any Backend) throws -> any Optimizer {
            switch kind {
            case "SGD": return try SGD(parameters: model, options: SGDOptions(nesterov: true), on: backend)
            case "LARS": return try LARS(parameters: model, options: LARSOptions(weightDecay: 0.05), on: backend)
            default: return try AdamW(parameters: model, on: backend)
            }
        }
        try forEachBackend { backend in
            let a = try OptimFixtures.model(on: backend), optA = try make(a, backend)
            for t in 0..<2 {
                try OptimFixtures.setGradients(a, step: t, on: backend)
                try optA.step(lr: 0.1)
            }
            // A checkpoint: copies of the parameters and of the state (the live buffers move on).
            let saved = try optA.state.map { (name: $0.name, tensor: try backend.copy($0.tensor)) }
            let b = try zip(a, OptimFixtures.model(on: backend)).map { pa, pb in
                try backend.axpby(pa.value, alpha: 1, beta: 0, into: pb.value)
                return pb
            }
            let optB = try make(b, backend)
            try optB.restore(state: saved, stepCount: optA.stepCount)
            #expect(try optB.state.map(\.name) == optA.state.map(\.name))
            for (opt, model) in [(optA, a), (optB, b)] {
                try OptimFixtures.setGradients(model, step: 2, on: backend)
                try opt.step(lr: 0.05)
            }
            #expect(optB.stepCount == 3)
            let (sa, sb) = (try OptimFixtures.snapshot(optA, on: backend), try OptimFixtures.snapshot(optB, on: backend))
            #expect(sa == sb, "\(kind) on \(backend.kind): restored run differs")
        }
    }

    @Test("restore refuses missing, unknown, repeated and mis-shaped entries, changing nothing")
    func restoreErrors() throws {
        let backend = TestBackends.reference
        let model = try OptimFixtures.model(on: backend)
        let adamw = try AdamW(parameters: model, on: backend)
        try OptimFixtures.setGradients(model, step: 0, on: backend)
        try adamw.step(lr: 0.1)
        let good = try adamw.state, before = try OptimFixtures.snapshot(adamw, on: backend)
        let cases: [([(name: String, tensor: Tensor)], Int, String)] = [
            (Array(good.dropLast()), 1, "state entry 'b.step' is missing"),
            (good + [(name: "w.extra", tensor: try backend.zeros([1]))], 1, "unknown state entries [\"w.extra\"]"),
            (good + [good[0]], 1, "state entry 'w.exp_avg' appears more than once"),
            (try good.map { $0.name == "w.exp_avg" ? (name: $0.name, tensor: try backend.zeros([4, 3])) : $0 }, 1,
             "state entry 'w.exp_avg' has shape [4, 3] but must have [3, 4]"),
            (try good.map { $0.name == "b.step" ? (name: $0.name, tensor: try backend.upload([1.5], shape: [])) : $0 }, 1,
             "state entry 'b.step' must hold a whole step count"),
            (good, -1, "the step count must be non-negative, got -1"),
        ]
        for (state, stepCount, message) in cases {
            let error = #expect(throws: SSLError.self) { try adamw.restore(state: state, stepCount: stepCount) }
            #expect(error?.description.contains(message) == true, "\(String(describing: error)) should contain '\(message)'")
            #expect(try OptimFixtures.snapshot(adamw, on: backend) == before && adamw.stepCount == 1)
        }
    }

    @Test("bad learning rates, options and parameter lists throw, leaving the parameters unchanged")
    func stepErrors() throws {
        let backend = TestBackends.reference
        let model = try OptimFixtures.model(on: backend)
        try OptimFixtures.setGradients(model, step: 0, on: backend)
        let optimizers: [any Optimizer] = [try SGD(parameters: model, on: backend), try LARS(parameters: model, on: backend),
                                           try AdamW(parameters: model, on: backend)]
        let before = try model.map { try backend.download($0.value) }
        for optimizer in optimizers {
            for lr in [-0.1, .nan, .infinity] {
                let error = #expect(throws: SSLError.self) { try optimizer.step(lr: lr) }
                #expect(error?.description.contains("the learning rate must be a non-negative finite number") == true)
            }
            #expect(optimizer.stepCount == 0)
        }
        (optimizers[0] as! SGD).options.nesterov = true
        (optimizers[0] as! SGD).options.momentum = 0
        #expect(throws: SSLError.self) { try optimizers[0].step(lr: 0.1) }
        #expect(try model.map { try backend.download($0.value) } == before)

        // A step count at 2^24, the float32 limit of the checkpointed count, stops AdamW before any update.
        let adamw = optimizers[2] as! AdamW
        let atLimit = try adamw.state.map { entry in
            entry.name == "b.step" ? (name: entry.name, tensor: try backend.upload([16_777_216], shape: [])) : entry
        }
        try adamw.restore(state: atLimit, stepCount: 0)
        let limit = #expect(throws: SSLError.self) { try adamw.step(lr: 0.1) }
        #expect(limit?.description.contains("parameter 'b' has reached 16777216 steps") == true)
        #expect(try model.map { try backend.download($0.value) } == before && adamw.parameterSteps == [0, 16_777_216])

        let empty = #expect(throws: SSLError.self) { try SGD(parameters: [], on: backend) }
        #expect(empty?.description.contains("the parameter list is empty") == true)
        let twice = #expect(throws: SSLError.self) { try LARS(parameters: [model[0], model[0]], on: backend) }
        #expect(twice?.description.contains("parameter name 'w' appears more than once") == true)
        #expect(throws: SSLError.self) { try LARS(parameters: model, biasAndNormLRScale: -1, on: backend) }
        #expect(throws: SSLError.self) { try AdamW(parameters: model, options: AdamWOptions(beta1: 1), on: backend) }
        #expect(throws: SSLError.self) { try backend.clipGradientNormPerParameter(of: model, maxNorm: -3) }
    }
}
