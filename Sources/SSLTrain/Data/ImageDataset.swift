// An in-memory image data set: N images (C, H, W) as bytes or floats in [0, 1], optional labels.
import CZlib

/// N images of `(C, H, W)`, row-major (channel planes), with optional integer labels.
///
/// Pixels stay in the form the file had: bytes for MNIST, Fashion-MNIST and CIFAR (a quarter of
/// the memory of floats), or floats in [0, 1] from a float `.npy`. ``images(_:)`` gathers a batch
/// as floats in [0, 1], as torchvision's `ToTensor` (`x / 255`).
///
/// ```swift
/// let train = try FashionMNIST.load(split: .train)
/// let (a, b) = (try train.slice(0..<50_000), try train.slice(50_000..<60_000))
/// let batch = try train.images([3, 1, 4])      // (3, 1, 28, 28) floats
/// ```
public struct ImageDataset: Sendable {
    /// Pixel storage, `(N, C, H, W)` row-major.
    public enum Pixels: Equatable, Sendable {
        /// 0…255, read as x / 255.
        case uint8([UInt8])
        /// In [0, 1].
        case float([Float])

        var count: Int {
            switch self {
            case .uint8(let v): return v.count
            case .float(let v): return v.count
            }
        }
    }

    /// For messages and logs, e.g. "fashion-mnist/train".
    public let name: String
    /// N and the image shape (C, H, W).
    public let count: Int, channels: Int, height: Int, width: Int
    /// All images, `(N, C, H, W)` row-major.
    public let pixels: Pixels
    /// One label in 0..<classCount per image, or nil for unlabelled data.
    public let labels: [Int]?
    /// The number of classes (0 when unlabelled).
    public let classCount: Int

    /// - Throws: `SSLError` when the pixels do not fill `(N, C, H, W)` for some N, a dimension
    ///   is not positive, or labels are not one per image in 0..<classCount.
    public init(name: String, channels: Int, height: Int, width: Int, pixels: Pixels,
                labels: [Int]?, classCount: Int) throws {
        func fail(_ detail: String) -> SSLError { .invalidArgument(op: "ImageDataset \(name)", detail: detail) }
        guard channels > 0, height > 0, width > 0 else {
            throw fail("image shape (\(channels), \(height), \(width)) must be positive")
        }
        let imageSize = channels * height * width
        guard pixels.count % imageSize == 0 else {
            throw fail("\(pixels.count) pixel values are not a whole number of (\(channels), \(height), \(width)) images")
        }
        let n = pixels.count / imageSize
        if let labels {
            guard labels.count == n else { throw fail("\(labels.count) labels for \(n) images") }
            guard classCount > 0 else { throw fail("labelled data needs a positive class count, got \(classCount)") }
            if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classCount }) {
                throw fail("label \(labels[bad]) of image \(bad) is outside 0..<\(classCount)")
            }
        }
        self.name = name
        self.count = n
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
        self.labels = labels
        self.classCount = labels == nil ? 0 : classCount
    }

    /// A fingerprint of the contents: the shape and a CRC-32 of the pixels and labels. A resumed
    /// run compares it with its checkpoint's, so that a data set replaced under the same path is
    /// not trained on unseen.
    public var digest: String {
        func crc<T>(_ values: [T], _ start: UInt) -> UInt {
            values.withUnsafeBytes { crc32(start, $0.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt($0.count)) }
        }
        var sum: UInt
        switch pixels {
        case .uint8(let v): sum = crc(v, 0)
        case .float(let v): sum = crc(v, 0)
        }
        sum = crc((labels ?? []).map(Int64.init), sum)
        return "\(count)×\(channels)×\(height)×\(width), CRC-32 \(String(sum, radix: 16))"
    }

    /// Values per image, C·H·W.
    public var imageSize: Int { channels * height * width }
    /// `[N, C, H, W]`.
    public var shape: [Int] { [count, channels, height, width] }

    // MARK: - Subsets

    /// The images at `indices`, in that order (repeats allowed), as a new data set.
    public func subset(_ indices: [Int], name: String? = nil) throws -> ImageDataset {
        try check(indices)
        let picked: Pixels
        switch pixels {
        case .uint8(let v): picked = .uint8(gather(v, indices))
        case .float(let v): picked = .float(gather(v, indices))
        }
        return try ImageDataset(name: name ?? self.name, channels: channels, height: height, width: width,
                                pixels: picked, labels: labels.map { l in indices.map { l[$0] } }, classCount: classCount)
    }

    /// A contiguous range of images, e.g. a validation split.
    public func slice(_ range: Range<Int>, name: String? = nil) throws -> ImageDataset {
        guard range.lowerBound >= 0, range.upperBound <= count else {
            throw SSLError.invalidArgument(op: "ImageDataset \(self.name)", detail: "range \(range) is outside 0..<\(count)")
        }
        return try subset(Array(range), name: name ?? "\(self.name)[\(range.lowerBound)..<\(range.upperBound)]")
    }

    private func gather<T>(_ values: [T], _ indices: [Int]) -> [T] {
        var out: [T] = []
        out.reserveCapacity(indices.count * imageSize)
        for i in indices { out += values[(i * imageSize)..<((i + 1) * imageSize)] }
        return out
    }

    // MARK: - Batches

    /// Throws unless every index lies in 0..<count.
    private func check(_ indices: [Int]) throws {
        if let bad = indices.first(where: { $0 < 0 || $0 >= count }) {
            throw SSLError.invalidArgument(op: "ImageDataset \(name)", detail: "index \(bad) is outside 0..<\(count)")
        }
    }

    /// The images at `indices` as floats in [0, 1], `(B, C, H, W)` row-major.
    public func images(_ indices: [Int]) throws -> [Float] {
        try check(indices)
        switch pixels {
        case .float(let v): return gather(v, indices)
        case .uint8(let v):
            var out = [Float](repeating: 0, count: indices.count * imageSize)
            for (b, i) in indices.enumerated() {
                for k in 0..<imageSize { out[b * imageSize + k] = Float(v[i * imageSize + k]) / 255 }
            }
            return out
        }
    }

    /// The labels at `indices`, or nil for unlabelled data.
    public func labels(_ indices: [Int]) throws -> [Int]? {
        try check(indices)
        return labels.map { l in indices.map { l[$0] } }
    }

    /// The images at `indices` as a `(B, C, H, W)` tensor on `backend`.
    public func upload(_ indices: [Int], to backend: any Backend) throws -> Tensor {
        try backend.upload(try images(indices), shape: [indices.count, channels, height, width])
    }
}
