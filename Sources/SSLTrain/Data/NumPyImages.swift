// A user's own images and labels as .npy files (read by SSLCore's NumPy reader).

/// Images `(N, H, W)` or `(N, H, W, C)` (channels last, as NumPy and PIL keep them; converted to
/// `(C, H, W)`), or `(N, C, H, W)` with `channelsLast: false`, as uint8 (0…255) or float32/float64
/// in [0, 1]; labels a 1-D integer array (int32, int64 or uint8) of N values ≥ 0.
public enum NumPyImages {
    /// - Parameters:
    ///   - images: the image `.npy`.
    ///   - labels: the label `.npy`, or nil for unlabelled data.
    ///   - name: the data set's name in messages; nil for the image file's.
    ///   - classCount: nil for 1 + the largest label.
    ///   - channelsLast: whether a 4-D array is `(N, H, W, C)` rather than `(N, C, H, W)`.
    /// - Throws: `SSLError.npy(file:reason:)` naming the file for a wrong rank or dtype, float
    ///   values outside [0, 1] or not finite, a label count unlike N, or a label outside the classes.
    public static func load(images: String, labels: String? = nil, name: String? = nil, classCount: Int? = nil,
                            channelsLast: Bool = true) throws -> ImageDataset {
        let array = try NumPy.read(images)
        func fail(_ reason: String) -> SSLError { .npy(file: images, reason: reason) }
        guard array.shape.count == 3 || array.shape.count == 4 else {
            throw fail("images must be (N, H, W) or (N, H, W, C), got a \(array.shape.count)-D array of shape \(array.shape)")
        }
        guard array.shape.allSatisfy({ $0 > 0 }) else { throw fail("images of shape \(array.shape) are empty") }
        let n = array.shape[0]
        let (c, h, w): (Int, Int, Int)
        if array.shape.count == 3 {
            (c, h, w) = (1, array.shape[1], array.shape[2])
        } else if channelsLast {
            (c, h, w) = (array.shape[3], array.shape[1], array.shape[2])
        } else {
            (c, h, w) = (array.shape[1], array.shape[2], array.shape[3])
        }
        let pixels: ImageDataset.Pixels
        switch array.dtype {
        case .uint8:
            pixels = .uint8(toCHW(try array.integers().map { UInt8($0) }, n: n, c: c, h: h, w: w, convert: channelsLast))
        case .float32, .float64:
            let values = try array.floats()
            if let bad = values.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) {
                throw fail("float images must lie in [0, 1]; value \(values[bad]) at flat index \(bad) does not "
                           + "(divide 0…255 data by 255, or save it as uint8)")
            }
            pixels = .float(toCHW(values, n: n, c: c, h: h, w: w, convert: channelsLast))
        default:
            throw fail("images must be uint8 or float (<f4, <f8), got \(array.dtype.rawValue)")
        }
        var labelValues: [Int]? = nil
        if let labels {
            let l = try NumPy.read(labels)
            try l.requireRank(1, name: "labels")
            guard l.dtype != .float32, l.dtype != .float64 else {
                throw SSLError.npy(file: labels, reason: "labels must be integers (<i4, <i8, |u1), got \(l.dtype.rawValue)")
            }
            let values = try l.integers()
            guard values.count == n else {
                throw SSLError.npy(file: labels, reason: "\(values.count) labels, but \(images) holds \(n) images")
            }
            if let bad = values.firstIndex(where: { $0 < 0 }) {
                throw SSLError.npy(file: labels, reason: "label \(values[bad]) of image \(bad) is negative")
            }
            if let classCount, let bad = values.firstIndex(where: { $0 >= Int64(classCount) }) {
                throw SSLError.npy(file: labels, reason: "label \(values[bad]) of image \(bad) is outside 0..<\(classCount)")
            }
            labelValues = values.map { Int($0) }
        }
        let classes = labelValues.map { classCount ?? (($0.max() ?? -1) + 1) } ?? 0
        return try ImageDataset(name: name ?? images, channels: c, height: h, width: w, pixels: pixels,
                                labels: labelValues, classCount: classes)
    }

    /// `(N, H, W, C)` → `(N, C, H, W)`; unchanged when `convert` is false or C = 1.
    static func toCHW<T>(_ x: [T], n: Int, c: Int, h: Int, w: Int, convert: Bool) -> [T] {
        guard convert, c > 1 else { return x }
        var out = x
        for i in 0..<n {
            for y in 0..<h {
                for xx in 0..<w {
                    for ch in 0..<c { out[((i * c + ch) * h + y) * w + xx] = x[((i * h + y) * w + xx) * c + ch] }
                }
            }
        }
        return out
    }
}
