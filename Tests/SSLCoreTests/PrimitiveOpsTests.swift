// The primitives (PrimitiveOps): every backward against central differences on the reference,
// the device against the reference on shapes of size 1, primes and broadcasts, and bad shapes.
import Foundation
import Testing
@testable import SSLCore

@Suite struct PrimitiveOpsTests {
    /// Operand shapes: equal, broadcast both ways, a scalar, rank 3 against rank 1, size-1 axes.
    static let binaryShapes: [([Int], [Int])] = [
        ([1], [1]), ([7], [7]), ([3, 5], [5]), ([3, 1], [1, 4]), ([], [2, 3]), ([2, 1, 5], [3, 1]), ([13, 1, 3], [1, 17, 3]),
    ]

    /// Inputs where every op is smooth: |a| in [0.5, 1.5] (positive for log and pow's base), b away from 0.
    static func operands(_ a: [Int], _ b: [Int], seed: UInt64) -> ([Double], [Double]) {
        var rng = SeededRandom(seed: seed)
        let x = rng.uniform(a.reduce(1, *), scale: 0.5).map { Double($0) + 1 }
        let y = rng.uniform(b.reduce(1, *), scale: 0.5).map { Double($0) + 1.25 }
        return (x, y)
    }

    @Test("every binary op's gradient matches central differences", arguments: BinaryOp.allCases.filter { $0 != .equal })
    func binaryGradient(_ op: BinaryOp) throws {
        for (aShape, bShape) in Self.binaryShapes {
            let output = try PrimitiveShapes.broadcast(aShape, bShape, op: "test")
            let (a, b) = Self.operands(aShape, bShape, seed: UInt64(op.rawValue) + 7)
            var rng = SeededRandom(seed: 3)
            let w = rng.uniform(output.reduce(1, *)).map(Double.init)
            let r = PrimitiveReference.binaryBackward(op, a, aShape, b, bShape, dY: w, output: output)
            checkGradient("\(op) ∂a \(aShape) \(bShape)", at: a, analytic: r.dA) {
                dot(w, PrimitiveReference.binary(op, $0, aShape, b, bShape, output: output))
            }
            checkGradient("\(op) ∂b \(aShape) \(bShape)", at: b, analytic: r.dB) {
                dot(w, PrimitiveReference.binary(op, a, aShape, $0, bShape, output: output))
            }
        }
    }

    @Test("exp's and log's gradients match central differences", arguments: UnaryOp.allCases)
    func unaryGradient(_ op: UnaryOp) {
        let (x, w) = Self.operands([11], [11], seed: 5)
        checkGradient("\(op)", at: x, analytic: PrimitiveReference.unaryBackward(op, x, dY: w)) {
            dot(w, PrimitiveReference.unary(op, $0))
        }
    }

    static let reductions: [([Int], [Int])] = [([1], [0]), ([7], [0]), ([3, 5], [1]), ([3, 5], [0]), ([2, 3, 5], [0, 2]),
                                               ([4, 1, 3], [1]), ([2, 3, 5], [0, 1, 2]), ([3, 4], [])]

    @Test("sum's and max's gradients match central differences (max without ties)", arguments: ReduceOp.allCases)
    func reduceGradient(_ op: ReduceOp) {
        for (shape, axes) in Self.reductions {
            var rng = SeededRandom(seed: 9)
            let x = rng.uniform(shape.reduce(1, *)).map(Double.init)
            let outCount = shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element).reduce(1, *)
            let w = rng.uniform(outCount).map(Double.init)
            checkGradient("\(op) \(shape) over \(axes)", at: x,
                          analytic: PrimitiveReference.reduceBackward(op, x, shape: shape, reduced: axes, dY: w)) {
                dot(w, PrimitiveReference.reduce(op, $0, shape: shape, reduced: axes))
            }
        }
    }

    @Test("max splits its gradient between tied maxima, as torch.amax")
    func maxTies() {
        let dx = PrimitiveReference.reduceBackward(.max, [1, 3, 3, 2, 5, 0], shape: [2, 3], reduced: [1], dY: [6, 4])
        #expect(dx == [0, 3, 3, 0, 4, 0])
    }

    @Test("the shape ops' gradients: transpose, broadcast, concatenate and slice are each other's adjoints")
    func shapeAdjoints() throws {
        // ⟨w, op(x)⟩ = ⟨opᵀ(w), x⟩ for the linear shape ops, with the backward each names.
        var rng = SeededRandom(seed: 21)
        let x = rng.uniform(2 * 3 * 5).map(Double.init)
        let wT = rng.uniform(30).map(Double.init)
        let t = PrimitiveReference.transpose(x, shape: [2, 3, 5], permutation: [2, 0, 1])
        let tBack = PrimitiveReference.transpose(wT, shape: [5, 2, 3], permutation: [1, 2, 0])
        #expect(abs(dot(wT, t) - dot(tBack, x)) < 1e-12)
        let small = rng.uniform(3).map(Double.init), wB = rng.uniform(2 * 4 * 3).map(Double.init)
        let b = PrimitiveReference.broadcast(small, shape: [1, 3], to: [2, 4, 3])
        #expect(abs(dot(wB, b) - dot(PrimitiveReference.unbroadcast(wB, shape: [2, 4, 3], to: [1, 3]), small)) < 1e-12)
        let s = PrimitiveReference.slice(x, shape: [2, 3, 5], axis: 2, range: 1..<4)
        #expect(s == (0..<6).flatMap { row in (1..<4).map { x[row * 5 + $0] } })
        let joined = PrimitiveReference.concatenate([(Array(x[0..<15]), [1, 3, 5]), (Array(x[15...]), [1, 3, 5])], axis: 0)
        #expect(joined == x)
        let columns = PrimitiveReference.concatenate([(PrimitiveReference.slice(x, shape: [2, 3, 5], axis: 2, range: 0..<2), [2, 3, 2]),
                                                      (PrimitiveReference.slice(x, shape: [2, 3, 5], axis: 2, range: 2..<5), [2, 3, 3])],
                                                     axis: 2)
        #expect(columns == x)
    }

    /// Float32 on the device against Double on the reference: pow and exp round to a few ulp.
    static let rtol = 2e-5, atol = 1e-6

    @Test("the device matches the reference: binary ops and their gradients", .enabled(if: TestBackends.hasOpenCL),
          arguments: BinaryOp.allCases)
    func binaryParity(_ op: BinaryOp) throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        for (aShape, bShape) in Self.binaryShapes {
            let (a, b) = Self.operands(aShape, bShape, seed: 11)
            let output = try PrimitiveShapes.broadcast(aShape, bShape, op: "test")
            var rng = SeededRandom(seed: 12)
            let dy = rng.uniform(output.reduce(1, *))
            let what = "\(op) \(aShape) \(bShape)"
            func on(_ backend: any Backend) throws -> (Tensor, Tensor, Tensor) {
                let (ta, tb) = (try backend.upload(a.map(Float.init), shape: aShape), try backend.upload(b.map(Float.init), shape: bShape))
                let g = try backend.binaryBackward(op, ta, tb, try backend.upload(dy, shape: output))
                return (try backend.binary(op, ta, tb), g.dA, g.dB)
            }
            let (y1, a1, b1) = try on(cl), (y0, a0, b0) = try on(ref)
            try assertClose(y1, on: cl, y0, on: ref, rtol: Self.rtol, atol: Self.atol, what)
            try assertClose(a1, on: cl, a0, on: ref, rtol: Self.rtol, atol: Self.atol, what + " dA")
            try assertClose(b1, on: cl, b0, on: ref, rtol: Self.rtol, atol: Self.atol, what + " dB")
        }
    }

    @Test("the device matches the reference: exp, log, reductions and shape ops", .enabled(if: TestBackends.hasOpenCL))
    func parity() throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        var rng = SeededRandom(seed: 31)
        let x = rng.uniform(3 * 7 * 5).map { $0 + 1.5 }, dy = rng.uniform(3 * 7 * 5)
        func both(_ what: String, _ body: (any Backend) throws -> Tensor) throws {
            try assertClose(try body(cl), on: cl, try body(ref), on: ref, rtol: Self.rtol, atol: Self.atol, what)
        }
        for op in UnaryOp.allCases {
            try both("\(op)") { try $0.unary(op, try $0.upload(x, shape: [3, 7, 5])) }
            try both("\(op) backward") { try $0.unaryBackward(op, try $0.upload(x, shape: [3, 7, 5]), try $0.upload(dy, shape: [3, 7, 5])) }
        }
        for op in ReduceOp.allCases {
            for (shape, axes) in Self.reductions + [([3, 7, 5], [-1]), ([3, 7, 5], [0, 2])] where shape.reduce(1, *) <= x.count {
                let values = Array(x.prefix(shape.reduce(1, *)))
                for keep in [false, true] {
                    try both("\(op) \(shape) \(axes) keep \(keep)") { try $0.reduce(op, try $0.upload(values, shape: shape), axes: axes, keepDimensions: keep) }
                }
                let reduced = try PrimitiveShapes.reduced(shape, axes: axes, keepDimensions: false, op: "test").output
                let g = Array(dy.prefix(reduced.reduce(1, *)))
                try both("\(op) backward \(shape) \(axes)") {
                    try $0.reduceBackward(op, try $0.upload(values, shape: shape), axes: axes, try $0.upload(g, shape: reduced))
                }
            }
        }
        try both("mean") { try $0.mean(try $0.upload(x, shape: [3, 7, 5]), axes: [0, 2]) }
        try both("mean backward") { try $0.meanBackward(try $0.upload(x, shape: [3, 7, 5]), axes: [0, 2], try $0.upload(Array(dy.prefix(7)), shape: [7])) }
        try both("scaled") { try $0.scaled(try $0.upload(x, shape: [3, 7, 5]), by: -0.5) }
        try both("max backward with ties") {
            try $0.reduceBackward(.max, try $0.upload([1, 3, 3, 2, 5, 0], shape: [2, 3]), axes: [1], try $0.upload([6, 4], shape: [2]))
        }
        try both("transpose") { try $0.transpose(try $0.upload(x, shape: [3, 7, 5]), permutation: [2, 0, 1]) }
        try both("broadcast") { try $0.broadcast(try $0.upload(Array(x.prefix(5)), shape: [1, 5]), to: [3, 7, 5]) }
        try both("unbroadcast") { try $0.unbroadcast(try $0.upload(x, shape: [3, 7, 5]), to: [7, 1]) }
        try both("unbroadcast to a scalar") { try $0.unbroadcast(try $0.upload(x, shape: [3, 7, 5]), to: []) }
        try both("concatenate") {
            try $0.concatenate([try $0.upload(Array(x.prefix(3 * 7 * 2)), shape: [3, 7, 2]),
                                try $0.upload(Array(x.prefix(3 * 7 * 3)), shape: [3, 7, 3])], axis: -1)
        }
        try both("slice") { try $0.slice(try $0.upload(x, shape: [3, 7, 5]), axis: 1, range: 2..<6) }
        try both("empty slice") { try $0.slice(try $0.upload(x, shape: [3, 7, 5]), axis: 1, range: 2..<2) }
    }

    @Test("bad shapes are errors naming the operands, the same on every backend")
    func errors() throws {
        try forEachBackend { b in
            let x = try b.upload([Float](repeating: 1, count: 6), shape: [2, 3]), y = try b.upload([1, 2], shape: [2])
            func expectError(_ words: [String], _ body: () throws -> Tensor) {
                #expect { _ = try body() } throws: { error in words.allSatisfy { "\(error)".contains($0) } }
            }
            expectError(["(2, 3)", "(2,)", "axis -1"]) { try b.binary(.add, x, y) }
            expectError(["rank 9"]) { try b.unary(.exp, try b.zeros([1, 1, 1, 1, 1, 1, 1, 1, 1])) }
            expectError(["axis 2", "rank 2"]) { try b.reduce(.sum, x, axes: [2], keepDimensions: false) }
            expectError(["repeat"]) { try b.reduce(.sum, x, axes: [1, -1], keepDimensions: false) }
            expectError(["empty axis"]) { try b.reduce(.max, try b.zeros([0, 3]), axes: [0], keepDimensions: false) }
            expectError(["[0, 0]", "permutation"]) { try b.transpose(x, permutation: [0, 0]) }
            expectError(["does not broadcast to"]) { try b.broadcast(x, to: [3, 3]) }
            expectError(["differ outside axis 0"]) { try b.concatenate([x, try b.zeros([1, 4])], axis: 0) }
            expectError(["outside axis 1"]) { try b.slice(x, axis: 1, range: 1..<4) }
            #expect(try b.download(try b.reduce(.sum, try b.zeros([0, 3]), axes: [0], keepDimensions: false)) == [0, 0, 0])
            let m = try b.download(try b.mean(x, axes: [0, 1]))
            let dMean = try b.download(try b.meanBackward(x, axes: [1], try b.upload([3, 6], shape: [2])))
            #expect(m == [1] && dMean == [1, 1, 1, 2, 2, 2])
        }
    }
}
