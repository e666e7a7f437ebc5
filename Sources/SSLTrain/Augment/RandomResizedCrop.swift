// torchvision's RandomResizedCrop.get_params, with the counter-based generator as its source of
// randomness.
import Foundation

/// The crop box of `RandomResizedCrop` (Szegedy et al. 2015's "Inception crop"), as torchvision
/// `transforms.RandomResizedCrop.get_params` draws it.
///
/// Up to 10 attempts: an area fraction `s ~ U(scale)` and a log-uniform aspect ratio
/// `r = exp(U(log ratio))` give `w = round(√(s·H·W·r))`, `h = round(√(s·H·W / r))` (Python's
/// round, half to even); the first box that fits is placed uniformly. If none fits, the centre
/// crop of the whole image clamped to the ratio range. Defaults: scale (0.08, 1), ratio (3/4, 4/3).
public enum RandomResizedCrop {
    /// torchvision's and SimCLR/BYOL's area range.
    public static let defaultScale: ClosedRange<Double> = 0.08...1
    /// torchvision's aspect-ratio range.
    public static let defaultRatio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0)
    /// Draws per attempt: area, ratio, top, left.
    static let drawsPerAttempt: UInt64 = 4
    /// How many attempts before the centre-crop fallback.
    public static let attempts = 10

    /// The box `(top, left, height, width)` for an image of `height × width`; uses the counters
    /// `counterBase ..< counterBase + 40` of `random`.
    public static func box(height: Int, width: Int, scale: ClosedRange<Double> = defaultScale,
                           ratio: ClosedRange<Double> = defaultRatio, random: CounterRandom,
                           counterBase: UInt64 = 0) -> (top: Int, left: Int, height: Int, width: Int) {
        let area = Double(height * width)
        let logRatio = log(ratio.lowerBound)...log(ratio.upperBound)
        for attempt in 0..<UInt64(attempts) {
            let c = counterBase + attempt * drawsPerAttempt
            let targetArea = area * random.uniform(c, in: scale)
            let aspect = exp(random.uniform(c + 1, in: logRatio))
            let w = Int((targetArea * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((targetArea / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0, w <= width, h > 0, h <= height {
                return (random.below(height - h + 1, c + 2), random.below(width - w + 1, c + 3), h, w)
            }
        }
        let inRatio = Double(width) / Double(height)
        var (h, w) = (height, width)
        if inRatio < ratio.lowerBound {
            h = Int((Double(w) / ratio.lowerBound).rounded(.toNearestOrEven))
        } else if inRatio > ratio.upperBound {
            w = Int((Double(h) * ratio.upperBound).rounded(.toNearestOrEven))
        }
        return ((height - h) / 2, (width - w) / 2, h, w)
    }
}
