// The augment op: torchvision's values for each stage, identity, exact flips and solarisation,
// argument errors, and OpenCL vs reference parity on odd sizes.
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

/// Images (N, C, H, W) in [0, 1] from a seeded generator.
func augmentTestImages(_ n: Int, _ c: Int, _ h: Int, _ w: Int, seed: UInt64) -> [Float] {
    var rng = SeededRandom(seed: seed)
    return rng.uniform(n * c * h * w).map { ($0 + 1) / 2 }
}

/// An output with no normalisation, so views stay in [0, 1].
func augmentPlainOutput(_ h: Int, _ w: Int, channels: Int, blur: Int? = nil) -> AugmentOutput {
    AugmentOutput(height: h, width: w, blurKernelSize: blur, mean: Array(repeating: 0, count: channels),
                  std: Array(repeating: 1, count: channels))
}

@Suite struct AugmentOpTests {
    @Test("identity parameters give the input back, bit for bit, on every backend", arguments: [1, 3])
    func identity(_ c: Int) throws {
        let (n, h, w) = (2, 7, 5)
        let images = augmentTestImages(n, c, h, w, seed: 1)
        let views = (0..<n).map { AugmentView(source: $0, top: 0, left: 0, height: h, width: w) }
        try forEachBackend { backend in
            let out = try backend.augment(try backend.upload(images, shape: [n, c, h, w]), views: views,
                                          output: augmentPlainOutput(h, w, channels: c))
            #expect(out.shape == [n, c, h, w])
            #expect(try backend.download(out) == images, "\(backend.name)")
        }
    }

    @Test("bilinear resampling matches PyTorch's interpolate(align_corners=False) values")
    func bilinearValues() throws {
        // F.interpolate(tensor([[1., 2.], [3., 4.]])[None, None], size=(4, 4), mode='bilinear')
        let up: [Double] = [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4]
        // A (1, 4) row [0, 1, 2, 3] down to (1, 2), antialias off: sources 0.5 and 2.5.
        let down: [Double] = [0.5, 2.5]
        try forEachBackend { backend in
            let a = try backend.upload([1, 2, 3, 4].map { $0 / 4 }, shape: [1, 1, 2, 2])
            let upOut = try backend.augment(a, views: [AugmentView(source: 0, top: 0, left: 0, height: 2, width: 2)],
                                            output: augmentPlainOutput(4, 4, channels: 1))
            assertClose(try backend.download(upOut), up.map { $0 / 4 }, shape: upOut.shape, expectedShape: [1, 1, 4, 4],
                        rtol: 0, atol: 1e-7, "upsample on \(backend.name)")
            let b = try backend.upload([0, 1, 2, 3].map { $0 / 4 }, shape: [1, 1, 1, 4])
            let downOut = try backend.augment(b, views: [AugmentView(source: 0, top: 0, left: 0, height: 1, width: 4)],
                                              output: augmentPlainOutput(1, 2, channels: 1))
            assertClose(try backend.download(downOut), down.map { $0 / 4 }, shape: downOut.shape,
                        expectedShape: [1, 1, 1, 2], rtol: 0, atol: 1e-7, "downsample on \(backend.name)")
        }
    }

    @Test("Gaussian weights and reflect padding are torchvision's")
    func blurPieces() {
        // torchvision _get_gaussian_kernel1d(3, 1.0) = exp(-x²/2) at -1, 0, 1, normalised.
        let w = AugmentReference.gaussianWeights(sigma: 1, size: 3)
        let e = exp(-0.5)
        for (a, b) in zip(w, [e, 1, e].map { $0 / (1 + 2 * e) }) { #expect(abs(a - b) < 1e-15) }
        #expect(AugmentOutput.blurKernelSize(for: 224) == 23 && AugmentOutput.blurKernelSize(for: 28) == 3)
        #expect(AugmentOutput.blurKernelSize(for: 12) == 3 && AugmentOutput.blurKernelSize(for: 64) == 7)
        // F.pad(mode='reflect') on 0 1 2 3 4: index -2 → 2, -1 → 1, 5 → 3, 6 → 2.
        #expect([-2, -1, 0, 4, 5, 6].map { AugmentReference.reflect($0, 5) } == [2, 1, 0, 4, 3, 2])
        #expect(AugmentReference.reflect(-3, 1) == 0 && AugmentReference.reflect(-3, 2) == 1)
    }

    @Test("jitter, grayscale, blur and normalisation follow their formulas on one pixel image set")
    func colourFormulas() throws {
        // A 1×2 RGB image: contrast blends with the mean gray over both pixels.
        let image: [Float] = [0.2, 0.8, 0.5, 0.1, 0.4, 0.9]  // R plane, G plane, B plane
        let gray = [0, 1].map { p in AugmentReference.lumaWeights.enumerated().reduce(0.0) { $0 + $1.element * Double(image[$1.offset * 2 + p]) } }
        let mean = (gray[0] + gray[1]) / 2
        func clamp(_ x: Double) -> Double { min(max(x, 0), 1) }
        // Order: contrast 1.5, then brightness 1.2.
        let expected = image.map { clamp(1.2 * clamp(1.5 * Double($0) - 0.5 * mean)) }
        let view = AugmentView(source: 0, top: 0, left: 0, height: 1, width: 2, brightness: 1.2, contrast: 1.5,
                               jitterOrder: [.contrast, .hue, .brightness, .saturation])
        // Saturation 0 gives gray; then normalisation with mean 0.5, std 0.25.
        let grayView = AugmentView(source: 0, top: 0, left: 0, height: 1, width: 2, saturation: 0)
        let normalised = AugmentOutput(height: 1, width: 2, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        try forEachBackend { backend in
            let x = try backend.upload(image, shape: [1, 3, 1, 2])
            let a = try backend.augment(x, views: [view], output: augmentPlainOutput(1, 2, channels: 3))
            assertClose(try backend.download(a), expected, shape: a.shape, expectedShape: [1, 3, 1, 2],
                        rtol: 0, atol: 1e-6, "jitter on \(backend.name)")
            let g = try backend.augment(x, views: [grayView], output: normalised)
            assertClose(try backend.download(g), (0..<3).flatMap { _ in gray.map { ($0 - 0.5) / 0.25 } }, shape: g.shape,
                        expectedShape: [1, 3, 1, 2], rtol: 0, atol: 1e-5, "saturation 0 on \(backend.name)")
            // Blur leaves a constant image constant (weights sum to 1, reflect padding).
            let flat = try backend.upload([Float](repeating: 0.3, count: 35), shape: [1, 1, 5, 7])
            let b = try backend.augment(flat, views: [AugmentView(source: 0, top: 0, left: 0, height: 5, width: 7, blurSigma: 1.7)],
                                        output: augmentPlainOutput(5, 7, channels: 1, blur: 5))
            assertClose(try backend.download(b), Array(repeating: 0.3, count: 35), shape: b.shape,
                        expectedShape: [1, 1, 5, 7], rtol: 0, atol: 1e-6, "blur of a constant on \(backend.name)")
        }
    }

    @Test("hue follows torchvision's adjust_hue (Tests/Fixtures/augment_hue.py); one channel is left unchanged")
    func hue() throws {
        let input = try Fixtures.doubles("augment_hue_input"), factors = try Fixtures.doubles("augment_hue_factors").values
        let expected = try Fixtures.doubles("augment_hue_output").values
        let (n, h, w) = (input.shape[0], input.shape[2], input.shape[3])
        let views = (0..<n).map { AugmentView(source: $0, top: 0, left: 0, height: h, width: w, hue: Float(factors[$0]),
                                              jitterOrder: [.hue, .brightness, .contrast, .saturation]) }
        try forEachBackend { backend in
            let out = try backend.augment(try backend.upload(input.values.map(Float.init), shape: input.shape), views: views,
                                          output: augmentPlainOutput(h, w, channels: 3))
            // Float32 inputs and arithmetic: a hue of 0.5 moves a channel by up to 1, rounded to ~1e-7.
            assertClose(try backend.download(out), expected, shape: out.shape, expectedShape: input.shape,
                        rtol: 0, atol: 2e-6, "hue on \(backend.name)")
            let gray = augmentTestImages(1, 1, h, w, seed: 4)
            let same = try backend.augment(try backend.upload(gray, shape: [1, 1, h, w]),
                                           views: [AugmentView(source: 0, top: 0, left: 0, height: h, width: w, hue: 0.3)],
                                           output: augmentPlainOutput(h, w, channels: 1))
            #expect(try backend.download(same) == gray, "one channel has no hue")
        }
    }

    @Test("a flip mirrors the unflipped view exactly; solarisation is exactly 1 − x above the threshold", arguments: [1, 3])
    func flipAndSolarizeExact(_ c: Int) throws {
        let (h, w) = (7, 5)
        let images = augmentTestImages(1, c, h, w, seed: 5)
        // Contrast and blur are left out here: mirroring reverses their summation order, which
        // may move the last bit; the parity test covers them.
        let base = AugmentView(source: 0, top: 1, left: 1, height: 5, width: 3, brightness: 1.3, solarize: true)
        var flipped = base
        flipped.flip = true
        let output = AugmentOutput(height: 6, width: 9, mean: Array(repeating: 0.25, count: c), std: Array(repeating: 0.5, count: c))
        try forEachBackend { backend in
            let x = try backend.upload(images, shape: [1, c, h, w])
            let out = try backend.download(try backend.augment(x, views: [base, flipped], output: output))
            let plane = 6 * 9
            for i in 0..<(c * plane) {
                let (row, col) = ((i % plane) / 9, i % 9)
                let mirrored = out[c * plane + (i - i % plane) + row * 9 + (8 - col)]
                if out[i] != mirrored { Issue.record("\(backend.name): element \(i): \(out[i]) vs flipped \(mirrored)"); return }
            }
            let solar = try backend.download(try backend.augment(
                x, views: [AugmentView(source: 0, top: 0, left: 0, height: h, width: w, solarize: true)],
                output: augmentPlainOutput(h, w, channels: c)))
            #expect(solar == images.map { $0 >= 0.5 ? 1 - $0 : $0 }, "\(backend.name)")
        }
    }

    @Test("bad shapes, boxes, sources, factors, orders and outputs are errors that name them")
    func errors() throws {
        try forEachBackend { backend in
            let x = try backend.upload(augmentTestImages(2, 1, 4, 4, seed: 2), shape: [2, 1, 4, 4])
            let ok = AugmentView(source: 0, top: 0, left: 0, height: 4, width: 4)
            let out = augmentPlainOutput(3, 3, channels: 1)
            func expectError(_ words: String, _ views: [AugmentView], _ output: AugmentOutput = augmentPlainOutput(3, 3, channels: 1),
                             images: Tensor? = nil) {
                do {
                    _ = try backend.augment(images ?? x, views: views, output: output)
                    Issue.record("\(backend.name): no error for \(words)")
                } catch {
                    #expect("\(error)".contains(words), "\(error)")
                }
            }
            let badViews: [(String, (inout AugmentView) -> Void)] = [
                ("source 2 is outside the batch of 2", { $0.source = 2 }),
                ("does not lie inside the 4×4 image", { $0.left = 1 }),
                ("crop box", { $0.height = 0 }),
                ("contrast must be a non-negative", { $0.contrast = -1 }),
                ("blur sigma", { $0.blurSigma = .nan }),
                ("not a permutation", { $0.jitterOrder = [.brightness, .brightness, .contrast] }),
            ]
            for (words, change) in badViews {
                var v = ok
                change(&v)
                expectError(words, [v])
            }
            expectError("no views", [])
            expectError("needs 1 means and stds", [ok], augmentPlainOutput(3, 3, channels: 3))
            expectError("odd and positive", [ok], augmentPlainOutput(3, 3, channels: 1, blur: 4))
            expectError("output size must be positive", [ok], augmentPlainOutput(0, 3, channels: 1))
            expectError("stds positive", [ok], AugmentOutput(height: 3, width: 3, mean: [0], std: [0]))
            expectError("1 or 3 channels", [ok], out, images: try backend.upload(Array(repeating: 0, count: 32), shape: [1, 2, 4, 4]))
            expectError("(N, C, H, W)", [ok], out, images: try backend.upload(Array(repeating: 0, count: 16), shape: [4, 4]))
        }
    }

    /// Float32 vs Double: each value passes through a dozen float operations on numbers ≤ 1
    /// (2⁻²⁴ relative each); the contrast mean is a tree sum over ≤ 256 work-items (8 levels,
    /// ~5e-7 relative); normalisation divides by std 0.353 (×2.8): well under 1e-5; 1e-4
    /// leaves a margin.
    @Test("OpenCL matches the reference on odd sizes, 1×1 crops, 1 and 3 channels", .enabled(if: TestBackends.hasOpenCL),
          arguments: [1, 3], [false, true])
    func parity(_ c: Int, serialRows: Bool) throws {
        // A work-group per view, or one work-item per view (the -DROWS_SERIAL build of CPU devices).
        guard TestBackends.hasOpenCL else { return }
        let gpu = openCL(serialRows: serialRows)
        let (n, h, w) = (3, 7, 5)
        let images = augmentTestImages(n, c, h, w, seed: UInt64(10 + c))
        var views = (0..<9).map { k in
            ViewPolicy(size: 1, brightness: 0.8, contrast: 0.8, saturation: 0.8, grayscaleProbability: 0.3,
                       blurProbability: 0.7, solarizeProbability: 0.5)
                .sample(source: k % n, imageHeight: h, imageWidth: w, random: CounterRandom(seed: 3, epoch: 0, index: k, stream: c))
        }
        views.append(AugmentView(source: 2, top: 6, left: 4, height: 1, width: 1, flip: true, contrast: 0.5, blurSigma: 2))
        views.append(AugmentView(source: 1, top: 3, left: 0, height: 1, width: 5, brightness: 1.6, blurSigma: 0.4))
        for (oh, ow) in [(1, 1), (3, 4), (9, 6), (13, 11), (23, 19)] {  // 23×19 > 256: pixels per work-item > 1
            let output = AugmentOutput(height: oh, width: ow, blurKernelSize: oh > 8 ? 5 : 3,
                                       mean: Array(repeating: 0.2860, count: c), std: Array(repeating: 0.3530, count: c))
            let expected = try TestBackends.reference.augment(try TestBackends.reference.upload(images, shape: [n, c, h, w]),
                                                              views: views, output: output)
            let actual = try gpu.augment(try gpu.upload(images, shape: [n, c, h, w]), views: views, output: output)
            try assertClose(actual, on: gpu, expected, on: TestBackends.reference, rtol: 1e-4, atol: 1e-4,
                            "augment C \(c) → \(oh)×\(ow) serial \(serialRows)")
        }
    }
}
