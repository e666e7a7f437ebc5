// The host side of augmentation: the counter-based generator, RandomResizedCrop's parameter
// statistics and fallback, the view recipes' probabilities, reproducibility and independence
// from batch composition, and multi-crop outputs.
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

@Suite struct AugmentPipelineTests {
    @Test("counter draws are pure functions of (seed, epoch, index, stream, counter) and look uniform")
    func counterRandom() {
        let a = CounterRandom(seed: 9, epoch: 2, index: 77, stream: 1)
        #expect(a == CounterRandom(seed: 9, epoch: 2, index: 77, stream: 1))
        for other in [CounterRandom(seed: 8, epoch: 2, index: 77, stream: 1), CounterRandom(seed: 9, epoch: 3, index: 77, stream: 1),
                      CounterRandom(seed: 9, epoch: 2, index: 78, stream: 1), CounterRandom(seed: 9, epoch: 2, index: 77, stream: 0)] {
            #expect(other.key != a.key && other.bits(0) != a.bits(0))
        }
        let u = (0..<20_000).map { a.uniform(UInt64($0)) }
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
        let mean = u.reduce(0, +) / Double(u.count)
        #expect(abs(mean - 0.5) < 0.01, "mean \(mean)")  // σ of the mean: 0.29/√20000 = 0.002
        var counts = [Int](repeating: 0, count: 7)
        for k in 0..<7_000 { counts[a.below(7, UInt64(k))] += 1 }
        #expect(counts.allSatisfy { abs($0 - 1000) < 120 }, "\(counts)")  // σ ≈ 29
    }

    @Test("RandomResizedCrop boxes lie inside, with scale and ratio in range; the fallback is the clamped centre crop")
    func randomResizedCrop() {
        var scales: [Double] = [], logRatios: [Double] = []
        for i in 0..<3_000 {
            let r = CounterRandom(seed: 1, epoch: 0, index: i)
            let b = RandomResizedCrop.box(height: 1000, width: 1000, random: r)
            #expect(b.top >= 0 && b.left >= 0 && b.top + b.height <= 1000 && b.left + b.width <= 1000)
            scales.append(Double(b.height * b.width) / 1e6)
            logRatios.append(log(Double(b.width) / Double(b.height)))
        }
        // Rounding to whole pixels moves area and ratio by at most ~0.1% at this size.
        #expect(scales.allSatisfy { $0 >= 0.08 * 0.998 && $0 <= 1 })
        #expect(logRatios.allSatisfy { abs($0) <= log(4.0 / 3.0) + 0.003 })
        // Without rejection the mean scale is 0.54; rejecting wide boxes near s = 1 lowers it a little.
        let meanScale = scales.reduce(0, +) / 3000, meanLogRatio = logRatios.reduce(0, +) / 3000
        #expect(meanScale > 0.45 && meanScale < 0.56, "mean scale \(meanScale)")
        #expect(abs(meanLogRatio) < 0.02, "mean log ratio \(meanLogRatio)")  // symmetric; σ of the mean ≈ 0.003
        #expect(scales.min()! < 0.1 && scales.max()! > 0.95)
        // Small images: boxes still fit, for 1×1 too.
        for (h, w) in [(1, 1), (7, 5), (2, 9)] {
            for i in 0..<200 {
                let b = RandomResizedCrop.box(height: h, width: w, random: CounterRandom(seed: 2, epoch: 1, index: i))
                #expect(b.height >= 1 && b.width >= 1 && b.top + b.height <= h && b.left + b.width <= w, "\(h)×\(w): \(b)")
            }
        }
        // A ratio no box of a square image can meet: every attempt fails, the centre crop clamped to ratio 2.
        let fallback = RandomResizedCrop.box(height: 28, width: 28, scale: 1...1, ratio: 2...3,
                                             random: CounterRandom(seed: 0, epoch: 0, index: 0))
        #expect(fallback == (7, 0, 14, 28))
    }

    @Test("view recipes fire with their probabilities and draw factors, orders and σ in range")
    func viewStatistics() throws {
        let policy = ViewPolicy.byol(size: 28, view: 1)
        try policy.validate()
        let views = (0..<4_000).map { policy.sample(source: 0, imageHeight: 28, imageWidth: 28,
                                                    random: CounterRandom(seed: 5, epoch: 0, index: $0, stream: 1)) }
        func rate(_ f: (AugmentView) -> Bool) -> Double { Double(views.filter(f).count) / Double(views.count) }
        // 4000 draws: σ of a rate ≤ 0.008; 0.03 is about 4σ.
        #expect(abs(rate { $0.flip } - 0.5) < 0.03)
        #expect(abs(rate { $0.brightness != 1 } - 0.8) < 0.03)
        #expect(abs(rate { $0.grayscale } - 0.2) < 0.03)
        #expect(abs(rate { $0.blurSigma > 0 } - 0.1) < 0.03)
        #expect(abs(rate { $0.solarize } - 0.2) < 0.03)
        #expect(views.allSatisfy { (0.6...1.4).contains($0.brightness) && (0.6...1.4).contains($0.contrast) && (0.8...1.2).contains($0.saturation) })
        #expect(views.allSatisfy { $0.blurSigma == 0 || (0.1...2.0).contains($0.blurSigma) })
        #expect(views.allSatisfy { abs($0.hue) <= 0.1 } && abs(rate { $0.hue != 0 } - 0.8) < 0.03)
        // All 24 orders of the four jitter ops, each about as often (3 200 jittered views: 133 each,
        // σ ≈ 11; 60 is more than 6σ from the mean).
        let orders = Dictionary(grouping: views.filter { $0.hue != 0 }, by: { $0.jitterOrder.map(\.rawValue) })
        #expect(orders.count == 24 && orders.values.allSatisfy { abs($0.count - 133) < 60 }, "\(orders.mapValues(\.count))")
        #expect(ViewPolicy.byol(size: 28, view: 0).blurProbability == 1 && ViewPolicy.byol(size: 28, view: 0).solarizeProbability == 0)
        var bad = policy
        bad.scale = 0...1
        #expect(throws: SSLError.self) { try bad.validate() }
        bad = policy
        bad.flipProbability = 1.5
        #expect(throws: SSLError.self) { try bad.validate() }
    }

    @Test("a sample's views are bit-identical for the same (seed, epoch, index) whatever batch it is in")
    func reproducibleAndBatchIndependent() throws {
        let pipeline = AugmentPipeline.twoViews(size: 9, normalization: .fashionMNIST, seed: 11)
        let all = augmentTestImages(6, 1, 11, 10, seed: 3)
        func images(_ rows: [Int]) -> [Float] { rows.flatMap { Array(all[($0 * 110)..<(($0 + 1) * 110)]) } }
        try forEachBackend { backend in
            // Sample 4 is row 1 of batch A and row 0 of batch B; batch A again gives identical output.
            let a = [2, 4, 5], b = [4, 0]
            func run(_ rows: [Int], epoch: Int) throws -> [Float] {
                let x = try backend.upload(images(rows), shape: [rows.count, 1, 11, 10])
                return try backend.download(try pipeline.apply(x, indices: rows, epoch: epoch, on: backend)[0])
            }
            let outA = try run(a, epoch: 3), outB = try run(b, epoch: 3)
            #expect(outA == (try run(a, epoch: 3)), "\(backend.name): not reproducible")
            let view = 81
            for k in 0..<2 {  // view k of sample 4: row k·B + position
                let fromA = Array(outA[((k * 3 + 1) * view)..<((k * 3 + 2) * view)])
                let fromB = Array(outB[((k * 2 + 0) * view)..<((k * 2 + 1) * view)])
                #expect(fromA == fromB, "\(backend.name): view \(k) of sample 4 depends on its batch")
            }
            #expect(outA != (try run(a, epoch: 4)), "\(backend.name): epochs give the same views")
        }
        // The plans themselves: the parameters of sample 4, and the two views differ.
        let pa = try pipeline.plan(epoch: 3, indices: [2, 4, 5], imageHeight: 11, imageWidth: 10)
        let pb = try pipeline.plan(epoch: 3, indices: [4, 0], imageHeight: 11, imageWidth: 10)
        var v = pa.groups[0].views[1]
        v.source = 0
        #expect(v == pb.groups[0].views[0])
        #expect(pa.groups[0].views[1] != pa.groups[0].views[4])
    }

    @Test("multi-crop returns one tensor per crop size, with local crops from their own scale range")
    func multiCrop() throws {
        let pipeline = AugmentPipeline.multiCrop(globalSize: 14, localSize: 6, localCount: 3, normalization: .fashionMNIST, seed: 2)
        #expect(pipeline.cropSizes == [14, 6])
        let backend = TestBackends.reference
        let x = try backend.upload(augmentTestImages(2, 1, 28, 28, seed: 8), shape: [2, 1, 28, 28])
        let crops = try pipeline.apply(x, indices: [10, 20], epoch: 0, on: backend)
        #expect(crops.map(\.shape) == [[4, 1, 14, 14], [6, 1, 6, 6]])
        let plan = try pipeline.plan(epoch: 0, indices: Array(0..<200), imageHeight: 28, imageWidth: 28)
        #expect(plan.groups.map(\.viewNumbers) == [[0, 1], [2, 3, 4]])
        // Areas within (0.05, 0.14) and (0.14, 1) of 784 pixels, give or take whole-pixel rounding.
        let local = plan.groups[1].views.map { Double($0.height * $0.width) / 784 }
        let global = plan.groups[0].views.map { Double($0.height * $0.width) / 784 }
        #expect(local.allSatisfy { $0 > 0.03 && $0 < 0.18 }, "\(local.min()!)…\(local.max()!)")
        #expect(global.allSatisfy { $0 > 0.11 && $0 <= 1 }, "\(global.min()!)…\(global.max()!)")
        #expect(throws: SSLError.self) {
            _ = try pipeline.apply(x, indices: [1, 2, 3], epoch: 0, on: backend)  // 3 indices, 2 images
        }
    }
}
