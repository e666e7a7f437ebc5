// L2 normalisation, softmax, log-softmax and axis reductions on both backends.
import Foundation
import Testing
@testable import SSLCore

/// Single float32 roundings of O(1) results and float32 sums of ≤ 300 terms: 1e-5 relative.
private let tolerance = 1e-5

@Suite struct RowOpsTests {
    static let shapes: [[Int]] = [[1, 1], [1, 7], [7, 13], [33, 65], [129, 300], [3, 5, 257], [1000]]

    @Test("OpenCL matches the reference", .enabled(if: TestBackends.hasOpenCL),
          arguments: Oclgrind.cases(shapes) { $0.reduce(1, *) })
    func parity(_ shape: [Int]) throws {
        let cl = TestBackends.openCL!, ref = TestBackends.reference
        var rng = SeededRandom(seed: UInt64(shape.reduce(17, *)))
        let values = rng.uniform(shape.reduce(1, *), scale: 4)
        let ops: [(String, (any Backend, Tensor) throws -> Tensor)] = [
            ("l2Normalize", { try $0.l2Normalize($1, eps: 1e-12) }),
            ("softmax", { try $0.softmax($1) }),
            ("logSoftmax", { try $0.logSoftmax($1) }),
        ] + (0..<shape.count).flatMap { axis -> [(String, (any Backend, Tensor) throws -> Tensor)] in
            [("sum axis \(axis)", { try $0.sum($1, axis: axis) }), ("mean axis \(axis)", { try $0.mean($1, axis: axis) })]
        }
        for (name, op) in ops {
            let expected = try op(ref, try ref.upload(values, shape: shape))
            // A work-group per row and one work-item per row, whichever the device picks.
            for serial in [false, true] {
                let form = OpenCLBackend(context: cl.context, kernels: KernelChoices(serialRows: serial))
                let actual = try op(form, try form.upload(values, shape: shape))
                try assertClose(actual, on: form, expected, on: ref, rtol: tolerance, atol: tolerance * 10,
                                "\(name) \(shape) serial rows \(serial)")
            }
        }
    }

    @Test("softmax rows sum to 1 and stay finite for large logits")
    func softmaxStable() throws {
        try forEachBackendBothRowForms { backend in
            let x = try backend.upload([1000, 999, -1000, 0, 0, 0], shape: [2, 3])
            let p = try backend.download(try backend.softmax(x))
            #expect(p.allSatisfy { $0.isFinite })
            #expect(abs(p[0] - 0.7310586) < 1e-6 && abs(p[3] - 1 / 3) < 1e-6, "\(backend.name) \(p)")
            let lp = try backend.download(try backend.logSoftmax(x))
            #expect(abs(lp[2] - (-2000 - log(1 + exp(-1)))) < 1e-2, "\(backend.name) \(lp)")
        }
    }

    @Test("l2Normalize divides by max(norm, eps) like F.normalize")
    func normalizeEps() throws {
        try forEachBackendBothRowForms { backend in
            let x = try backend.upload([3, 4, 0, 0], shape: [2, 2])
            #expect(try backend.download(try backend.l2Normalize(x, eps: 1e-12)) == [0.6, 0.8, 0, 0])
        }
    }

    @Test("sums and means have the reduced shape; bad axes are errors")
    func reduceShapes() throws {
        try forEachBackendBothRowForms { backend in
            let x = try backend.upload((0..<24).map(Float.init), shape: [2, 3, 4])
            let s1 = try backend.sum(x, axis: 1)
            #expect(s1.shape == [2, 4])
            #expect(try backend.download(s1) == [12, 15, 18, 21, 48, 51, 54, 57])
            #expect(try backend.download(try backend.mean(x, axis: 2)) == [1.5, 5.5, 9.5, 13.5, 17.5, 21.5])
            #expect(throws: SSLError.self) { try backend.sum(x, axis: 3) }
            #expect(throws: SSLError.self) { try backend.mean(x, axis: -1) }
        }
    }
}
