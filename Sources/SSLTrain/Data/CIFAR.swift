// CIFAR-10 and CIFAR-100 in their binary versions (Krizhevsky 2009, cs.toronto.edu/~kriz/cifar):
// fixed-size records of label bytes then 3072 pixel bytes, 1024 red, 1024 green, 1024 blue, each
// a row-major 32×32 plane, i.e. already (C, H, W).
import Foundation

/// Reading CIFAR binary batches.
public enum CIFAR {
    /// Pixel bytes per record: 3 × 32 × 32.
    public static let imageBytes = 3 * 32 * 32

    /// The records of one binary batch file: `labelBytes` label bytes then 3072 pixels each; the
    /// label kept is byte `labelIndex`, checked against `classCount`.
    /// - Throws: `SSLError.file(path:reason:)` naming `path` when it is missing, empty, not a
    ///   whole number of records, or holds a label ≥ `classCount`.
    public static func readBatch(_ path: String, labelBytes: Int, labelIndex: Int, classCount: Int)
        throws -> (pixels: [UInt8], labels: [Int]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file"
            throw SSLError.file(path: path, reason: reason)
        }
        let record = labelBytes + imageBytes
        guard !data.isEmpty, data.count % record == 0 else {
            throw SSLError.file(path: path, reason: "\(data.count) bytes is not a whole number of \(record)-byte CIFAR records "
                                + "(\(labelBytes) label byte\(labelBytes == 1 ? "" : "s") + \(imageBytes) pixels)")
        }
        let bytes = [UInt8](data)
        let n = bytes.count / record
        var pixels: [UInt8] = []
        pixels.reserveCapacity(n * imageBytes)
        var labels: [Int] = []
        labels.reserveCapacity(n)
        for r in 0..<n {
            let label = Int(bytes[r * record + labelIndex])
            guard label < classCount else {
                throw SSLError.file(path: path, reason: "record \(r) has label \(label), outside 0..<\(classCount)")
            }
            labels.append(label)
            pixels += bytes[(r * record + labelBytes)..<((r + 1) * record)]
        }
        return (pixels, labels)
    }

    /// CIFAR-10 from the `cifar-10-batches-bin` folder: `data_batch_1.bin` … `data_batch_5.bin`
    /// (50 000 images) or `test_batch.bin` (10 000); records of 1 label byte + 3072 pixels.
    public static func load10(folder: String, split: DataSplit) throws -> ImageDataset {
        let files = split == .train ? (1...5).map { "data_batch_\($0).bin" } : ["test_batch.bin"]
        return try load(files.map { folder + "/" + $0 }, labelBytes: 1, labelIndex: 0, classCount: 10,
                        name: "cifar10/\(split.rawValue)")
    }

    /// Which CIFAR-100 label to keep.
    public enum Labels: Sendable {
        /// The 20 superclasses (the first label byte).
        case coarse
        /// The 100 classes (the second label byte).
        case fine
    }

    /// CIFAR-100 from the `cifar-100-binary` folder: `train.bin` (50 000) or `test.bin` (10 000);
    /// records of a coarse and a fine label byte + 3072 pixels.
    public static func load100(folder: String, split: DataSplit, labels: Labels = .fine) throws -> ImageDataset {
        try load([folder + "/" + (split == .train ? "train.bin" : "test.bin")], labelBytes: 2,
                 labelIndex: labels == .coarse ? 0 : 1, classCount: labels == .coarse ? 20 : 100,
                 name: "cifar100/\(split.rawValue)")
    }

    /// The batch files `paths`, concatenated in order.
    public static func load(_ paths: [String], labelBytes: Int, labelIndex: Int, classCount: Int,
                            name: String) throws -> ImageDataset {
        var pixels: [UInt8] = [], labels: [Int] = []
        for path in paths {
            let batch = try readBatch(path, labelBytes: labelBytes, labelIndex: labelIndex, classCount: classCount)
            pixels += batch.pixels
            labels += batch.labels
        }
        return try ImageDataset(name: name, channels: 3, height: 32, width: 32, pixels: .uint8(pixels),
                                labels: labels, classCount: classCount)
    }
}
