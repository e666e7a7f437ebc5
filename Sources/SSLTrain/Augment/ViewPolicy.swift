// How one view of a sample is drawn: the distributions of the SimCLR/BYOL/multi-crop recipes, and
// the sampling of one AugmentView from a counter-based generator with a fixed slot per draw.

/// The distribution of one augmented view: output size, crop ranges and the probabilities and
/// strengths of each transform, as in torchvision's composed SimCLR/BYOL pipelines:
///
///     RandomResizedCrop(size, scale, ratio) → RandomHorizontalFlip(p)
///     → RandomApply([ColorJitter(b, c, s, h)], p) → RandomGrayscale(p)
///     → RandomApply([GaussianBlur(k, σ)], p) → RandomSolarize(0.5, p) → Normalize
///
/// Hue jitter leaves one-channel images such as Fashion-MNIST unchanged, as torchvision does.
///
/// ```swift
/// let policy = ViewPolicy.byol(size: 28, view: 1)
/// let v = policy.sample(source: 0, imageHeight: 28, imageWidth: 28,
///                       random: CounterRandom(seed: 1, epoch: 0, index: 12, stream: 1))
/// ```
public struct ViewPolicy: Equatable, Sendable {
    /// The output side in pixels.
    public var size: Int
    /// The crop's area fraction and aspect-ratio ranges (``RandomResizedCrop``).
    public var scale: ClosedRange<Double>, ratio: ClosedRange<Double>
    /// Probability of `RandomHorizontalFlip` (0.5).
    public var flipProbability: Double
    /// Probability of applying colour jitter (0.8).
    public var jitterProbability: Double
    /// ColorJitter's strengths s (0.4, 0.4, 0.2 as BYOL): factors ~ U(max(0, 1 − s), 1 + s); 0 disables one.
    public var brightness: Double, contrast: Double, saturation: Double
    /// ColorJitter's hue strength h in [0, 0.5] (0.1 as BYOL): the shift ~ U(−h, h); 0 disables it.
    public var hue: Double
    /// Probability of `RandomGrayscale` (0.2); no-op on one channel.
    public var grayscaleProbability: Double
    /// Probability of a Gaussian blur (1.0 / 0.1 for BYOL's two views).
    public var blurProbability: Double
    /// GaussianBlur's σ range in output pixels ([0.1, 2] as SimCLR/BYOL).
    public var blurSigma: ClosedRange<Double>
    /// Probability of `RandomSolarize(threshold 0.5)`.
    public var solarizeProbability: Double

    /// A policy; the defaults are BYOL's first view (``byol(size:view:)`` with view 0).
    public init(size: Int, scale: ClosedRange<Double> = RandomResizedCrop.defaultScale,
                ratio: ClosedRange<Double> = RandomResizedCrop.defaultRatio, flipProbability: Double = 0.5,
                jitterProbability: Double = 0.8, brightness: Double = 0.4, contrast: Double = 0.4,
                saturation: Double = 0.2, hue: Double = 0.1, grayscaleProbability: Double = 0.2, blurProbability: Double = 1.0,
                blurSigma: ClosedRange<Double> = 0.1...2.0, solarizeProbability: Double = 0) {
        self.size = size
        self.scale = scale
        self.ratio = ratio
        self.flipProbability = flipProbability
        self.jitterProbability = jitterProbability
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue
        self.grayscaleProbability = grayscaleProbability
        self.blurProbability = blurProbability
        self.blurSigma = blurSigma
        self.solarizeProbability = solarizeProbability
    }

    // MARK: - The papers' recipes

    /// BYOL's two asymmetric views (Grill et al. 2020, table 6): jitter (0.4, 0.4, 0.2, 0.1) with
    /// p 0.8, grayscale p 0.2, blur σ ∈ [0.1, 2] with p 1.0 (view 0) / 0.1 (view 1), solarisation
    /// p 0.0 / 0.2, scale (0.08, 1).
    public static func byol(size: Int, view: Int) -> ViewPolicy {
        ViewPolicy(size: size, blurProbability: view == 0 ? 1.0 : 0.1, solarizeProbability: view == 0 ? 0 : 0.2)
    }

    /// SimCLR's CIFAR-10 recipe (Chen et al. 2020, appendix B.9): colour distortion strength
    /// s = 0.5, i.e. jitter (0.8s, 0.8s, 0.8s, 0.2s) = (0.4, 0.4, 0.4, 0.1) with p 0.8, grayscale
    /// p 0.2, no blur.
    public static func simclr(size: Int) -> ViewPolicy {
        ViewPolicy(size: size, saturation: 0.4, blurProbability: 0)
    }

    /// A global crop of multi-crop (SwAV, Caron et al. 2020: scale (0.14, 1)), with BYOL's
    /// colour recipe and DINO's global-crop blur/solarisation: p 1.0 / 0.1 and 0.0 / 0.2 for
    /// the first and second global crop.
    public static func multiCropGlobal(size: Int, view: Int) -> ViewPolicy {
        var policy = byol(size: size, view: view)
        policy.scale = 0.14...1
        return policy
    }

    /// A local crop of multi-crop: SwAV's scale (0.05, 0.14), DINO's local blur p 0.5.
    public static func multiCropLocal(size: Int) -> ViewPolicy {
        ViewPolicy(size: size, scale: 0.05...0.14, blurProbability: 0.5)
    }

    // MARK: - Sampling

    /// The counter slots of each draw: fixed, so a change in whether one transform fires never
    /// moves another's random numbers.
    enum Slot {
        static let crop: UInt64 = 0  // 40 slots: RandomResizedCrop.box
        static let flip: UInt64 = 40, jitter: UInt64 = 41, factors: UInt64 = 42, order: UInt64 = 45
        static let grayscale: UInt64 = 48, blur: UInt64 = 49, sigma: UInt64 = 50, solarize: UInt64 = 51
        static let hue: UInt64 = 52, huePosition: UInt64 = 53
    }

    /// Throws unless every range and probability is usable.
    public func validate() throws {
        func fail(_ detail: String) -> SSLError { .invalidArgument(op: "ViewPolicy", detail: detail) }
        guard size > 0 else { throw fail("size must be positive, got \(size)") }
        guard scale.lowerBound > 0, scale.upperBound <= 1 else { throw fail("scale \(scale) must lie in (0, 1]") }
        guard ratio.lowerBound > 0, ratio.upperBound.isFinite else { throw fail("ratio \(ratio) must be positive and finite") }
        for (name, p) in [("flip", flipProbability), ("jitter", jitterProbability), ("grayscale", grayscaleProbability),
                          ("blur", blurProbability), ("solarize", solarizeProbability)] where !(0...1).contains(p) {
            throw fail("\(name) probability must lie in [0, 1], got \(p)")
        }
        for (name, s) in [("brightness", brightness), ("contrast", contrast), ("saturation", saturation)]
            where !(s >= 0 && s.isFinite) {
            throw fail("\(name) strength must be a non-negative finite number, got \(s)")
        }
        guard (0...0.5).contains(hue) else { throw fail("hue strength must lie in [0, 0.5], got \(hue)") }
        guard blurSigma.lowerBound > 0, blurSigma.upperBound.isFinite else {
            throw fail("blur sigma range \(blurSigma) must be positive and finite")
        }
    }

    /// One view of image `source` of the batch, whose size is `imageHeight × imageWidth`.
    public func sample(source: Int, imageHeight: Int, imageWidth: Int, random: CounterRandom) -> AugmentView {
        let box = RandomResizedCrop.box(height: imageHeight, width: imageWidth, scale: scale, ratio: ratio,
                                        random: random, counterBase: Slot.crop)
        var view = AugmentView(source: source, top: box.top, left: box.left, height: box.height, width: box.width,
                               flip: random.bernoulli(flipProbability, Slot.flip))
        if random.bernoulli(jitterProbability, Slot.jitter) {
            // ColorJitter.get_params: each factor ~ U(max(0, 1 − s), 1 + s), then a random order.
            let factors = [brightness, contrast, saturation].enumerated().map { i, s in
                s == 0 ? Float(1) : Float(random.uniform(Slot.factors + UInt64(i), in: max(0, 1 - s)...(1 + s)))
            }
            (view.brightness, view.contrast, view.saturation) = (factors[0], factors[1], factors[2])
            view.hue = hue == 0 ? 0 : Float(random.uniform(Slot.hue, in: -hue...hue))
            // torchvision's randperm(4): a uniform order of the first three (Fisher–Yates), then
            // hue inserted at a uniform position, which is uniform over all 24 orders and leaves
            // the first three's draws as they were before hue existed.
            var order: [JitterOp] = [.brightness, .contrast, .saturation]
            for i in stride(from: order.count - 1, to: 0, by: -1) {
                order.swapAt(i, random.below(i + 1, Slot.order + UInt64(i)))
            }
            order.insert(.hue, at: random.below(order.count + 1, Slot.huePosition))
            view.jitterOrder = order
        }
        view.grayscale = random.bernoulli(grayscaleProbability, Slot.grayscale)
        if random.bernoulli(blurProbability, Slot.blur) {
            view.blurSigma = Float(random.uniform(Slot.sigma, in: blurSigma))
        }
        view.solarize = random.bernoulli(solarizeProbability, Slot.solarize)
        return view
    }
}
