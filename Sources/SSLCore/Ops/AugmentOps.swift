// The augmentation op: a batch of views resampled, jittered, blurred, solarised and normalised on
// the device from a table of per-view parameters the host drew. Its protocol, the per-view
// parameters, the output description and the argument checks both backends share; the Double
// reference is AugmentReference.swift.

/// Applying SimCLR/BYOL-style augmentations to a batch of images on a backend.
///
/// The host draws every random parameter (a crop box, a flip, jitter factors, a blur σ, a
/// solarisation flag) per view and passes them as ``AugmentView`` values; the backend only
/// computes, so the same table gives the same views on any backend, batch or process.
///
/// ```swift
/// let view = AugmentView(source: 0, top: 2, left: 3, height: 20, width: 17, flip: true)
/// let out = try backend.augment(images, views: [view],
///                               output: AugmentOutput(height: 28, width: 28, mean: [0.2860], std: [0.3530]))
/// ```
public protocol AugmentOps {
    /// The views of `images` that `views` describe, in torchvision's order: resized crop
    /// (bilinear, `antialias=False`), horizontal flip, colour jitter, grayscale, Gaussian blur,
    /// solarisation, then `(x − mean[c]) / std[c]`.
    ///
    /// - Parameters:
    ///   - images: `(N, C, H, W)` with values in [0, 1], C = 1 or 3.
    ///   - views: one per output image; each names its source image (0..<N).
    ///   - output: the output size, the blur kernel size and the normalisation.
    /// - Returns: `(V, C, output.height, output.width)` for V = `views.count`.
    /// - Throws: ``SSLError`` for a bad shape, a source or crop box outside the images, a
    ///   negative or non-finite factor, a jitter order that is not a permutation, a bad output.
    func augment(_ images: Tensor, views: [AugmentView], output: AugmentOutput) throws -> Tensor
}

/// One colour-jitter operation; torchvision's `ColorJitter` applies them in a random order.
public enum JitterOp: Int, CaseIterable, Sendable {
    /// `clamp(f · x, 0, 1)`.
    case brightness
    /// `clamp(f · x + (1 − f) · mean(gray(x)), 0, 1)`, the mean over the whole view.
    case contrast
    /// `clamp(f · x + (1 − f) · gray(x), 0, 1)` per pixel; no-op on one channel.
    case saturation
    /// torchvision's `adjust_hue`: the pixel to HSV, h ← (h + f) mod 1, back to RGB; no-op on
    /// one channel, and at f = 0.
    case hue
}

/// The parameters of one view: everything random about it, drawn on the host.
///
/// The defaults are the identity: with the full image as the crop box and an output of the
/// image's size the view equals its source (before normalisation).
public struct AugmentView: Equatable, Sendable {
    /// The index of the source image in the batch, 0..<N.
    public var source: Int
    /// The crop box in source pixels (torchvision's `i, j, h, w`); it lies inside the image.
    public var top: Int, left: Int, height: Int, width: Int
    /// Mirror the output left–right.
    public var flip: Bool
    /// Jitter factors; 1 leaves the image unchanged.
    public var brightness: Float, contrast: Float, saturation: Float
    /// The hue shift in [−0.5, 0.5] (a fraction of the colour circle); 0 leaves the image unchanged.
    public var hue: Float
    /// The order the four jitter operations run in: a permutation of `JitterOp.allCases`.
    public var jitterOrder: [JitterOp]
    /// Convert to gray (ITU-R 601-2 luma, replicated over 3 channels); no-op on one channel.
    public var grayscale: Bool
    /// The Gaussian blur's σ in output pixels; 0 means no blur.
    public var blurSigma: Float
    /// Replace x by 1 − x where x ≥ the threshold (torchvision's `solarize`).
    public var solarize: Bool

    /// A view of image `source` cropped to the box; every other parameter defaults to the identity.
    public init(source: Int, top: Int, left: Int, height: Int, width: Int, flip: Bool = false,
                brightness: Float = 1, contrast: Float = 1, saturation: Float = 1, hue: Float = 0,
                jitterOrder: [JitterOp] = JitterOp.allCases, grayscale: Bool = false,
                blurSigma: Float = 0, solarize: Bool = false) {
        self.source = source
        self.top = top
        self.left = left
        self.height = height
        self.width = width
        self.flip = flip
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue
        self.jitterOrder = jitterOrder
        self.grayscale = grayscale
        self.blurSigma = blurSigma
        self.solarize = solarize
    }
}

/// What ``AugmentOps/augment(_:views:output:)`` produces: size, blur kernel and normalisation.
public struct AugmentOutput: Equatable, Sendable {
    /// The output size in pixels.
    public var height: Int, width: Int
    /// The odd side of the blur kernel; see ``blurKernelSize(for:)``.
    public var blurKernelSize: Int
    /// Per-channel mean and standard deviation of `Normalize`; `[0]` and `[1]` give [0, 1] views.
    public var mean: [Float], std: [Float]
    /// torchvision's `RandomSolarize` threshold for images in [0, 1].
    public var solarizeThreshold: Float

    /// - Parameters:
    ///   - height: the output height in pixels.
    ///   - width: the output width.
    ///   - blurKernelSize: nil for ``blurKernelSize(for:)`` of the smaller side.
    ///   - mean: `Normalize`'s mean per channel.
    ///   - std: `Normalize`'s standard deviation per channel.
    ///   - solarizeThreshold: torchvision's `RandomSolarize` threshold, 0.5 for images in [0, 1].
    public init(height: Int, width: Int, blurKernelSize: Int? = nil, mean: [Float], std: [Float],
                solarizeThreshold: Float = 0.5) {
        self.height = height
        self.width = width
        self.blurKernelSize = blurKernelSize ?? Self.blurKernelSize(for: min(height, width))
        self.mean = mean
        self.std = std
        self.solarizeThreshold = solarizeThreshold
    }

    /// About 10% of the image, odd, at least 3: `2⌊0.05·size⌋ + 1`, which is BYOL's 23 at 224
    /// (Grill et al. 2020, appendix B) and 3 at Fashion-MNIST's 28.
    public static func blurKernelSize(for size: Int) -> Int { max(3, 2 * (max(size, 0) / 20) + 1) }
}

extension AugmentReference {
    /// Floats per view in the parameter table the device reads (see ``table(_:)``).
    public static let tableStride = 20

    /// The parameter table: ``tableStride`` floats per view, in this order: source, top, left,
    /// height, width, flip, brightness, contrast, saturation, hue (each factor at 6 + its
    /// ``JitterOp`` raw value), the jitter order (4 slots), grayscale, blur σ, solarise, then
    /// padding. Integers are exact in float below 2²⁴, which the ops check before they read a table.
    public static func table(_ views: [AugmentView]) -> [Float] {
        views.flatMap { v -> [Float] in
            [Float(v.source), Float(v.top), Float(v.left), Float(v.height), Float(v.width), v.flip ? 1 : 0,
             v.brightness, v.contrast, v.saturation, v.hue]
                + v.jitterOrder.map { Float($0.rawValue) }
                + [v.grayscale ? 1 : 0, v.blurSigma, v.solarize ? 1 : 0, 0, 0, 0]
        }
    }

    /// The checks both backends run before computing, so they throw the same errors.
    /// - Returns: (N, C, H, W) of `images`.
    static func validate(_ images: [Int], views: [AugmentView], output: AugmentOutput) throws
        -> (n: Int, c: Int, h: Int, w: Int) {
        let op = "augment"
        func fail(_ detail: String) -> SSLError { .invalidArgument(op: op, detail: detail) }
        guard images.count == 4, images.allSatisfy({ $0 > 0 }) else {
            throw SSLError.shapeMismatch(op: op, detail: "images must be a non-empty (N, C, H, W) tensor, got \(shapeText(images))")
        }
        let (n, c, h, w) = (images[0], images[1], images[2], images[3])
        guard c == 1 || c == 3 else {
            throw SSLError.shapeMismatch(op: op, detail: "images must have 1 or 3 channels, got C = \(c) in \(shapeText(images))")
        }
        let limit = 1 << 24
        guard n < limit, h < limit, w < limit else { throw fail("images \(shapeText(images)) exceed 2^24 along an axis") }
        guard !views.isEmpty else { throw fail("no views to compute") }
        guard output.height > 0, output.width > 0 else {
            throw fail("output size must be positive, got \(output.height)×\(output.width)")
        }
        guard output.blurKernelSize >= 1, output.blurKernelSize % 2 == 1 else {
            throw fail("the blur kernel size must be odd and positive, got \(output.blurKernelSize)")
        }
        guard output.mean.count == c, output.std.count == c else {
            throw fail("normalisation needs \(c) means and stds, got \(output.mean.count) and \(output.std.count)")
        }
        guard output.mean.allSatisfy(\.isFinite), output.std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw fail("normalisation means must be finite and stds positive, got \(output.mean) and \(output.std)")
        }
        guard output.solarizeThreshold.isFinite else { throw fail("the solarisation threshold must be finite") }
        for (i, v) in views.enumerated() {
            guard v.source >= 0, v.source < n else { throw fail("view \(i): source \(v.source) is outside the batch of \(n) images") }
            guard v.height >= 1, v.width >= 1, v.top >= 0, v.left >= 0, v.top + v.height <= h, v.left + v.width <= w else {
                throw fail("view \(i): crop box top \(v.top), left \(v.left), \(v.height)×\(v.width) does not lie inside the \(h)×\(w) image")
            }
            for (name, f) in [("brightness", v.brightness), ("contrast", v.contrast), ("saturation", v.saturation), ("blur sigma", v.blurSigma)] {
                guard f.isFinite, f >= 0 else { throw fail("view \(i): \(name) must be a non-negative finite number, got \(f)") }
            }
            guard v.jitterOrder.count == JitterOp.allCases.count, Set(v.jitterOrder).count == JitterOp.allCases.count else {
                throw fail("view \(i): the jitter order \(v.jitterOrder) is not a permutation of brightness, contrast, saturation, hue")
            }
            guard v.hue.isFinite, abs(v.hue) <= 0.5 else { throw fail("view \(i): hue must lie in [-0.5, 0.5], got \(v.hue)") }
        }
        return (n, c, h, w)
    }
}
