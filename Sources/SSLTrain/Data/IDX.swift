// The IDX format of MNIST and Fashion-MNIST (LeCun et al., yann.lecun.com/exdb/mnist), gzip or
// plain, and the two data sets built on it.
//
// Layout: a big-endian magic 0x0000TTDD (TT = 0x08 for unsigned bytes, DD = the number of
// dimensions), DD big-endian u32 sizes, then the data. Images are 0x00000803 = 2051 (N, rows,
// columns), labels 0x00000801 = 2049 (N).
import Foundation

/// An IDX array of unsigned bytes.
public struct IDXArray: Sendable {
    /// The magic number, 2051 for images, 2049 for labels.
    public let magic: Int
    /// The sizes from the header, outermost first.
    public let dimensions: [Int]
    /// The bytes, row-major.
    public let data: [UInt8]
}

/// Reading IDX files.
public enum IDX {
    /// The magic of an image file: unsigned bytes, 3 dimensions.
    public static let imagesMagic = 2051
    /// The magic of a label file: unsigned bytes, 1 dimension.
    public static let labelsMagic = 2049

    /// Reads an IDX file (gzip-compressed or not) and checks its magic against `magic`.
    /// - Throws: `SSLError.file(path:reason:)` naming `path` for a bad magic, a short header, or
    ///   data shorter or longer than the header's sizes.
    public static func read(_ path: String, magic expected: Int) throws -> IDXArray {
        let bytes = try Gzip.read(path)
        func fail(_ reason: String) -> SSLError { .file(path: path, reason: reason) }
        func u32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 << 8 | Int(bytes[at + $1]) } }
        guard bytes.count >= 4 else { throw fail("not an IDX file: \(bytes.count) bytes, shorter than the 4-byte magic") }
        let magic = u32(0)
        guard magic == expected else {
            let kind = expected == imagesMagic ? "an image file (idx3-ubyte)" : "a label file (idx1-ubyte)"
            throw fail("bad IDX magic \(magic) (0x\(String(magic, radix: 16))): expected \(expected) for \(kind)")
        }
        let rank = magic & 0xFF
        let dataStart = 4 + 4 * rank
        guard bytes.count >= dataStart else { throw fail("truncated IDX header: \(bytes.count) bytes, the header needs \(dataStart)") }
        let dimensions = (0..<rank).map { u32(4 + 4 * $0) }
        let (needed, overflow) = dimensions.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        guard !overflow else { throw fail("IDX dimensions \(dimensions) are too large") }
        let held = bytes.count - dataStart
        if held < needed { throw fail("truncated IDX data: dimensions \(dimensions) need \(needed) bytes, the file holds \(held)") }
        if held > needed { throw fail("\(held - needed) unexpected bytes after the IDX data of dimensions \(dimensions)") }
        return IDXArray(magic: magic, dimensions: dimensions, data: Array(bytes[dataStart...]))
    }
}

/// Which half of a data set.
public enum DataSplit: String, CaseIterable, Sendable {
    case train, test
}

/// MNIST-format data sets: an idx3 image file and an idx1 label file (LeCun et al. 1998).
public enum MNIST {
    /// The file names of `split` in the distribution: `train-…` or `t10k-…`, with `.gz`.
    public static func fileNames(_ split: DataSplit) -> (images: String, labels: String) {
        let prefix = split == .train ? "train" : "t10k"
        return ("\(prefix)-images-idx3-ubyte.gz", "\(prefix)-labels-idx1-ubyte.gz")
    }

    /// Loads `split` from `folder`, taking each file as `NAME.gz` or, if that is absent, `NAME`.
    public static func load(folder: String, split: DataSplit, name: String = "mnist", classCount: Int = 10) throws -> ImageDataset {
        let names = fileNames(split)
        return try load(images: locate(folder, names.images), labels: locate(folder, names.labels),
                        name: "\(name)/\(split.rawValue)", classCount: classCount)
    }

    /// Loads an image file and a label file; the counts must agree.
    public static func load(images: String, labels: String, name: String, classCount: Int = 10) throws -> ImageDataset {
        let x = try IDX.read(images, magic: IDX.imagesMagic)
        let y = try IDX.read(labels, magic: IDX.labelsMagic)
        guard x.dimensions[0] == y.dimensions[0] else {
            throw SSLError.file(path: labels, reason: "\(y.dimensions[0]) labels, but \(images) holds \(x.dimensions[0]) images")
        }
        guard x.dimensions[1] > 0, x.dimensions[2] > 0 else {
            throw SSLError.file(path: images, reason: "empty image size \(x.dimensions[1])×\(x.dimensions[2])")
        }
        if let bad = y.data.firstIndex(where: { Int($0) >= classCount }) {
            throw SSLError.file(path: labels, reason: "label \(y.data[bad]) of image \(bad) is outside 0..<\(classCount)")
        }
        return try ImageDataset(name: name, channels: 1, height: x.dimensions[1], width: x.dimensions[2],
                                pixels: .uint8(x.data), labels: y.data.map(Int.init), classCount: classCount)
    }

    /// `folder/NAME.gz` if it exists, else `folder/NAME` without `.gz`.
    static func locate(_ folder: String, _ gzName: String) -> String {
        let gz = folder + "/" + gzName
        let plain = String(gz.dropLast(3))
        return !FileManager.default.fileExists(atPath: gz) && FileManager.default.fileExists(atPath: plain) ? plain : gz
    }
}

/// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017): Zalando's 70 000 28×28 grayscale clothing images
/// in 10 classes, in MNIST's IDX format.
public enum FashionMNIST {
    /// Where Debian's `dataset-fashion-mnist` package installs the files.
    public static let defaultFolder = "/usr/share/datasets/fashion-mnist"
    /// The classes, by label.
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// The `split` of Fashion-MNIST from `folder` (`.gz` or plain IDX files), named `fashion-mnist/<split>`.
    public static func load(folder: String = defaultFolder, split: DataSplit) throws -> ImageDataset {
        try MNIST.load(folder: folder, split: split, name: "fashion-mnist")
    }
}
