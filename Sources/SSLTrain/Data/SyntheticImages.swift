// A labelled toy data set that kNN can read and a few training steps can learn: for examples,
// tests and a first try of a method, without a download.
import SSLCore

extension ImageDataset {
    /// `count` one-channel `side`×`side` images of 4 classes: image n, of class n mod 4, is a
    /// bright square (0.8) over one quadrant on a dark ground (0.1), with uniform noise of ±0.1
    /// from SplitMix64(`seed`), clamped to [0, 1].
    /// - Throws: when `count` is negative or `side` is not an even positive number.
    public static func quadrants(count: Int, side: Int = 12, seed: UInt64) throws -> ImageDataset {
        guard count >= 0, side > 0, side % 2 == 0 else {
            throw SSLError.invalidArgument(op: "ImageDataset.quadrants", detail: "count \(count) must be ≥ 0 and side \(side) even and positive")
        }
        var rng = SplitMix64(seed: seed)
        let half = side / 2, plane = side * side
        var pixels = [Float](repeating: 0, count: count * plane)
        for n in 0..<count {
            let (top, left) = (n % 4 / 2 * half, n % 4 % 2 * half)
            for y in 0..<side {
                for x in 0..<side {
                    let inside = (top..<top + half).contains(y) && (left..<left + half).contains(x)
                    pixels[n * plane + y * side + x] = min(max((inside ? 0.8 : 0.1) + Float(rng.unit() - 0.5) * 0.2, 0), 1)
                }
            }
        }
        return try ImageDataset(name: "quadrants", channels: 1, height: side, width: side, pixels: .float(pixels),
                                labels: (0..<count).map { $0 % 4 }, classCount: 4)
    }
}
