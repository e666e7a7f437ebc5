// The augmentation op in Double on row-major [Double]: the reference backend's arithmetic and the
// ground truth of the parity tests. Each stage follows the torchvision function it names.

import Foundation

/// The augmentation op of ``AugmentOps`` in Double, one view at a time.
///
/// Stages, as torchvision computes them on float tensors in [0, 1]:
///
/// 1. `resized_crop(img, top, left, h, w, size, BILINEAR, antialias=False)`: PyTorch's
///    `upsample_bilinear2d` with `align_corners=False`: for an output pixel y,
///    `src = max((y + ½)·h/outH − ½, 0)`, `y0 = ⌊src⌋`, `y1 = min(y0 + 1, h − 1)`, `λ = src − y0`,
///    and the same along x; then `hflip`.
/// 2. `ColorJitter`'s `adjust_brightness/contrast/saturation/hue` in the view's order, the first
///    three `_blend(img, other, f) = clamp(f·img + (1 − f)·other, 0, 1)` (`rgb_to_grayscale` is
///    `0.2989 r + 0.587 g + 0.114 b`), hue through HSV (`_rgb2hsv`, `_hsv2rgb`). Then
///    `rgb_to_grayscale(num_output_channels=3)`.
/// 3. `gaussian_blur` with a `k`-tap kernel `exp(−x²/2σ²)`, x = −(k−1)/2 … (k−1)/2, normalised,
///    separable, with reflect padding (folded again where the kernel is wider than the view,
///    which torchvision refuses).
/// 4. `solarize`: `x ≥ threshold ? 1 − x : x`; then `Normalize`: `(x − mean[c]) / std[c]`.
public enum AugmentReference {
    /// ITU-R 601-2 luma weights of `rgb_to_grayscale`.
    public static let lumaWeights: [Double] = [0.2989, 0.587, 0.114]

    /// All views of `images`.
    /// - Parameters:
    ///   - images: `(N, C, H, W)` row-major.
    ///   - shape: N, C, H and W.
    ///   - views: one crop and its colour operations per output image.
    ///   - output: the output size and normalisation.
    /// - Returns: `(V, C, output.height, output.width)` row-major.
    public static func apply(images: [Double], shape: (n: Int, c: Int, h: Int, w: Int),
                             views: [AugmentView], output: AugmentOutput) -> [Double] {
        views.flatMap { view($0, images: images, shape: shape, output: output) }
    }

    /// One view, `(C, outH, outW)`.
    public static func view(_ v: AugmentView, images: [Double], shape: (n: Int, c: Int, h: Int, w: Int),
                            output: AugmentOutput) -> [Double] {
        let (c, oh, ow) = (shape.c, output.height, output.width)
        let imageSize = c * shape.h * shape.w
        let source = Array(images[(v.source * imageSize)..<((v.source + 1) * imageSize)])
        var x = resizedCrop(source, c: c, h: shape.h, w: shape.w, view: v, outH: oh, outW: ow)
        for op in v.jitterOrder {
            switch op {
            case .brightness: brightness(&x, Double(v.brightness))
            case .contrast: contrast(&x, c: c, plane: oh * ow, factor: Double(v.contrast))
            case .saturation: saturation(&x, c: c, plane: oh * ow, factor: Double(v.saturation))
            case .hue: hue(&x, c: c, plane: oh * ow, factor: Double(v.hue))
            }
        }
        if v.grayscale && c == 3 {
            for p in 0..<(oh * ow) {
                let g = gray(x, p, plane: oh * ow)
                for ch in 0..<3 { x[ch * oh * ow + p] = g }
            }
        }
        if v.blurSigma > 0 {
            let weights = gaussianWeights(sigma: Double(v.blurSigma), size: output.blurKernelSize)
            x = blur(x, planes: c, h: oh, w: ow, weights: weights, alongRows: true)
            x = blur(x, planes: c, h: oh, w: ow, weights: weights, alongRows: false)
        }
        let threshold = Double(output.solarizeThreshold)
        for ch in 0..<c {
            let mean = Double(output.mean[ch]), std = Double(output.std[ch])
            for p in 0..<(oh * ow) {
                var value = x[ch * oh * ow + p]
                if v.solarize && value >= threshold { value = 1 - value }
                x[ch * oh * ow + p] = (value - mean) / std
            }
        }
        return x
    }

    // MARK: - Stages

    /// The crop box of `image` `(C, H, W)` resampled to `(C, outH, outW)`, bilinear as PyTorch's
    /// `upsample_bilinear2d` (align_corners=False), then flipped if the view says so.
    public static func resizedCrop(_ image: [Double], c: Int, h: Int, w: Int, view v: AugmentView,
                                   outH: Int, outW: Int) -> [Double] {
        let ys = (0..<outH).map { sourceIndex($0, input: v.height, output: outH) }
        let xs = (0..<outW).map { sourceIndex($0, input: v.width, output: outW) }
        var out = [Double](repeating: 0, count: c * outH * outW)
        for ch in 0..<c {
            func at(_ y: Int, _ x: Int) -> Double { image[(ch * h + v.top + y) * w + v.left + x] }
            for oy in 0..<outH {
                let (y0, y1, ly) = ys[oy]
                for ox in 0..<outW {
                    let (x0, x1, lx) = xs[v.flip ? outW - 1 - ox : ox]
                    let top = (1 - lx) * at(y0, x0) + lx * at(y0, x1)
                    let bottom = (1 - lx) * at(y1, x0) + lx * at(y1, x1)
                    out[(ch * outH + oy) * outW + ox] = (1 - ly) * top + ly * bottom
                }
            }
        }
        return out
    }

    /// PyTorch's `area_pixel_compute_source_index` for linear modes, align_corners=False, and the
    /// two neighbours with the weight of the second.
    static func sourceIndex(_ dst: Int, input: Int, output: Int) -> (Int, Int, Double) {
        let scale = Double(input) / Double(output)
        let src = max(scale * (Double(dst) + 0.5) - 0.5, 0)
        let i0 = Int(src)
        return (i0, i0 < input - 1 ? i0 + 1 : i0, src - Double(i0))
    }

    static func blend(_ a: Double, _ b: Double, _ f: Double) -> Double { min(max(f * a + (1 - f) * b, 0), 1) }

    static func gray(_ x: [Double], _ p: Int, plane: Int) -> Double {
        lumaWeights[0] * x[p] + lumaWeights[1] * x[plane + p] + lumaWeights[2] * x[2 * plane + p]
    }

    static func brightness(_ x: inout [Double], _ f: Double) {
        guard f != 1 else { return }
        for i in x.indices { x[i] = blend(x[i], 0, f) }
    }

    /// Blends with the mean of the view's grayscale image (of its only channel when C = 1).
    static func contrast(_ x: inout [Double], c: Int, plane: Int, factor f: Double) {
        guard f != 1 else { return }
        let total = (0..<plane).reduce(0.0) { $0 + (c == 3 ? gray(x, $1, plane: plane) : x[$1]) }
        let mean = total / Double(plane)
        for i in x.indices { x[i] = blend(x[i], mean, f) }
    }

    /// Blends each pixel with its gray value; torchvision leaves one-channel images unchanged.
    static func saturation(_ x: inout [Double], c: Int, plane: Int, factor f: Double) {
        guard f != 1, c == 3 else { return }
        for p in 0..<plane {
            let g = gray(x, p, plane: plane)
            for ch in 0..<3 { x[ch * plane + p] = blend(x[ch * plane + p], g, f) }
        }
    }

    /// torchvision's `adjust_hue` (`_rgb2hsv`, h ← (h + f) mod 1, `_hsv2rgb`) per pixel;
    /// one-channel images are left unchanged, as torchvision matches PIL.
    static func hue(_ x: inout [Double], c: Int, plane: Int, factor f: Double) {
        guard f != 0, c == 3 else { return }
        for p in 0..<plane {
            let (r, g, b) = (x[p], x[plane + p], x[2 * plane + p])
            let (h, s, v) = rgbToHSV(r, g, b)
            let shifted = h + f
            let rgb = hsvToRGB(shifted - shifted.rounded(.down), s, v)  // Python's floored % 1.0
            (x[p], x[plane + p], x[2 * plane + p]) = rgb
        }
    }

    /// torchvision's `_rgb2hsv` for one pixel: h in [0, 1), s, v = max.
    static func rgbToHSV(_ r: Double, _ g: Double, _ b: Double) -> (Double, Double, Double) {
        let maxc = Swift.max(r, g, b), minc = Swift.min(r, g, b), equal = maxc == minc, range = maxc - minc
        let s = range / (equal ? 1 : maxc), divisor = equal ? 1 : range
        let rc = (maxc - r) / divisor, gc = (maxc - g) / divisor, bc = (maxc - b) / divisor
        let h = maxc == r ? bc - gc : maxc == g ? 2 + rc - bc : 4 + gc - rc
        return (fmod(h / 6 + 1, 1), s, maxc)
    }

    /// torchvision's `_hsv2rgb` for one pixel (p, q, t clamped to [0, 1]).
    static func hsvToRGB(_ h: Double, _ s: Double, _ v: Double) -> (Double, Double, Double) {
        let i = (h * 6).rounded(.down), f = h * 6 - i
        let p = Swift.min(Swift.max(v * (1 - s), 0), 1), q = Swift.min(Swift.max(v * (1 - s * f), 0), 1)
        let t = Swift.min(Swift.max(v * (1 - s * (1 - f)), 0), 1)
        switch ((Int(i) % 6) + 6) % 6 {
        case 0: return (v, t, p)
        case 1: return (q, v, p)
        case 2: return (p, v, t)
        case 3: return (p, q, v)
        case 4: return (t, p, v)
        default: return (v, p, q)
        }
    }

    /// torchvision's `_get_gaussian_kernel1d`: `exp(−x²/2σ²)` at `x = −(k−1)/2 … (k−1)/2`, summing to 1.
    public static func gaussianWeights(sigma: Double, size: Int) -> [Double] {
        let half = Double(size - 1) / 2
        let pdf = (0..<size).map { exp(-0.5 * pow((Double($0) - half) / sigma, 2)) }
        let total = pdf.reduce(0, +)
        return pdf.map { $0 / total }
    }

    /// Reflect padding without repeating the edge (`torch.nn.functional.pad(mode='reflect')`),
    /// folded again for offsets beyond the edge; one pixel reflects onto itself.
    public static func reflect(_ i: Int, _ n: Int) -> Int {
        guard n > 1 else { return 0 }
        let period = 2 * (n - 1)
        let m = ((i % period) + period) % period
        return m < n ? m : period - m
    }

    /// One pass of the separable blur over `planes` images `(h, w)`, along x or along y.
    static func blur(_ x: [Double], planes: Int, h: Int, w: Int, weights: [Double], alongRows: Bool) -> [Double] {
        let r = weights.count / 2
        var out = x
        for p in 0..<planes {
            for y in 0..<h {
                for xx in 0..<w {
                    var acc = 0.0
                    for (k, weight) in weights.enumerated() {
                        let (sy, sx) = alongRows ? (y, reflect(xx + k - r, w)) : (reflect(y + k - r, h), xx)
                        acc += weight * x[(p * h + sy) * w + sx]
                    }
                    out[(p * h + y) * w + xx] = acc
                }
            }
        }
        return out
    }
}
