// Data sets: IDX (gzip through zlib, and plain), CIFAR-10/100 binary batches and .npy images,
// on small files written here; every malformed file is an error naming it; the installed
// Fashion-MNIST when present.
import CZlib
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

/// A fresh temporary folder for one data-set test.
func dataTestFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-data-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// An IDX file's bytes: big-endian magic and sizes, then the data.
func dataIDXBytes(magic: Int, dimensions: [Int], data: [UInt8]) -> [UInt8] {
    func u32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * (3 - $0))) & 0xFF) } }
    return u32(magic) + dimensions.flatMap(u32) + data
}

/// Writes `bytes` to `path`, gzip-compressed through zlib's gzwrite when `gzip`.
func dataWrite(_ bytes: [UInt8], to path: String, gzip: Bool) throws {
    guard gzip else {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return
    }
    guard let file = gzopen(path, "wb") else { throw SSLError.file(path: path, reason: "gzopen failed") }
    let written = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
    #expect(gzclose(file) == Z_OK && Int(written) == bytes.count)
}

/// Expects `body` to throw an error whose text contains every one of `words`.
func dataExpectError(_ words: [String], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("no error; expected one mentioning \(words)", sourceLocation: sourceLocation)
    } catch {
        for word in words where !"\(error)".contains(word) {
            Issue.record("error \"\(error)\" does not mention \"\(word)\"", sourceLocation: sourceLocation)
        }
    }
}

@Suite struct DataSetTests {
    /// Four 3×2 images and their labels.
    static let pixels: [UInt8] = (0..<24).map { UInt8($0 * 10) }
    static let labels: [UInt8] = [3, 0, 9, 3]

    @Test("MNIST-format files load from gzip and from plain IDX, with subsets and slices", arguments: [true, false])
    func idx(_ gzip: Bool) throws {
        let folder = try dataTestFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let suffix = gzip ? ".gz" : ""
        try dataWrite(dataIDXBytes(magic: 2051, dimensions: [4, 3, 2], data: Self.pixels),
                      to: folder.path + "/t10k-images-idx3-ubyte" + suffix, gzip: gzip)
        try dataWrite(dataIDXBytes(magic: 2049, dimensions: [4], data: Self.labels),
                      to: folder.path + "/t10k-labels-idx1-ubyte" + suffix, gzip: gzip)
        let d = try MNIST.load(folder: folder.path, split: .test)
        #expect(d.shape == [4, 1, 3, 2] && d.labels == [3, 0, 9, 3] && d.classCount == 10 && d.name == "mnist/test")
        #expect(d.pixels == .uint8(Self.pixels))
        #expect(try d.images([2]) == Self.pixels[12..<18].map { Float($0) / 255 })
        let s = try d.subset([3, 1])
        #expect(s.labels == [3, 0] && s.count == 2)
        #expect(try s.images([0]) == d.images([3]))
        let sl = try d.slice(1..<3)
        #expect(sl.labels == [0, 9])
        #expect(try sl.images([0, 1]) == d.images([1, 2]))
        #expect(throws: SSLError.self) { try d.images([0, 4]) }
        #expect(throws: SSLError.self) { try d.labels([-1]) }
        #expect(throws: SSLError.self) { try d.slice(2..<5) }
        #expect(throws: SSLError.self) { try d.subset([4]) }
    }

    @Test("malformed IDX files: missing, bad magic, truncated (IDX and gzip), trailing bytes, count mismatch, bad label")
    func idxErrors() throws {
        let folder = try dataTestFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let images = folder.path + "/images.gz", labels = folder.path + "/labels.gz"
        let good = dataIDXBytes(magic: 2051, dimensions: [4, 3, 2], data: Self.pixels)
        try dataWrite(good, to: images, gzip: true)
        try dataWrite(dataIDXBytes(magic: 2049, dimensions: [4], data: Self.labels), to: labels, gzip: true)
        _ = try MNIST.load(images: images, labels: labels, name: "ok")

        dataExpectError([folder.path + "/none.gz", "no such file"]) { _ = try MNIST.load(images: folder.path + "/none.gz", labels: labels, name: "x") }
        dataExpectError([labels, "bad IDX magic 2049", "expected 2051"]) { _ = try MNIST.load(images: labels, labels: labels, name: "x") }
        dataExpectError([images, "expected 2049"]) { _ = try MNIST.load(images: images, labels: images, name: "x") }

        let short = folder.path + "/short.gz"
        try dataWrite(Array(good.dropLast(5)), to: short, gzip: true)
        dataExpectError([short, "truncated IDX data", "need 24 bytes, the file holds 19"]) { _ = try MNIST.load(images: short, labels: labels, name: "x") }
        let header = folder.path + "/header"
        try dataWrite(Array(good.prefix(9)), to: header, gzip: false)
        dataExpectError([header, "truncated IDX header"]) { _ = try MNIST.load(images: header, labels: labels, name: "x") }
        let long = folder.path + "/long"
        try dataWrite(good + [1, 2], to: long, gzip: false)
        dataExpectError([long, "2 unexpected bytes"]) { _ = try MNIST.load(images: long, labels: labels, name: "x") }

        // A gzip stream cut short: zlib reports the truncation.
        let cut = folder.path + "/cut.gz"
        let compressed = [UInt8](try Data(contentsOf: URL(fileURLWithPath: images)))
        try Data(compressed.prefix(compressed.count - 6)).write(to: URL(fileURLWithPath: cut))
        dataExpectError([cut, "truncated gzip data"]) { _ = try Gzip.read(cut) }
        // A corrupt gzip body (flipped bytes in the deflate stream, CRC no longer matches).
        var flipped = compressed
        for i in 12..<min(16, flipped.count - 8) { flipped[i] ^= 0xFF }
        let corrupt = folder.path + "/corrupt.gz"
        try Data(flipped).write(to: URL(fileURLWithPath: corrupt))
        dataExpectError([corrupt, "corrupt gzip data"]) { _ = try Gzip.read(corrupt) }

        let three = folder.path + "/three.gz"
        try dataWrite(dataIDXBytes(magic: 2049, dimensions: [3], data: [1, 2, 3]), to: three, gzip: true)
        dataExpectError([three, "3 labels", "4 images"]) { _ = try MNIST.load(images: images, labels: three, name: "x") }
        let eleven = folder.path + "/eleven.gz"
        try dataWrite(dataIDXBytes(magic: 2049, dimensions: [4], data: [1, 2, 11, 3]), to: eleven, gzip: true)
        dataExpectError([eleven, "label 11 of image 2"]) { _ = try MNIST.load(images: images, labels: eleven, name: "x") }
        dataExpectError([folder.path, "is a folder"]) { _ = try Gzip.read(folder.path) }
    }

    /// A CIFAR record: label bytes, then a 3072-byte image whose planes hold r, g, b at every pixel.
    static func cifarRecord(_ labels: [UInt8], _ r: UInt8, _ g: UInt8, _ b: UInt8) -> [UInt8] {
        labels + [UInt8](repeating: r, count: 1024) + [UInt8](repeating: g, count: 1024) + [UInt8](repeating: b, count: 1024)
    }

    @Test("CIFAR-10 and CIFAR-100 binary batches load in file order, planes as channels; bad files are errors naming them")
    func cifar() throws {
        let folder = try dataTestFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for k in 1...5 {
            try Data(Self.cifarRecord([UInt8(k)], UInt8(k), 100, 200) + Self.cifarRecord([0], 7, 8, 9))
                .write(to: folder.appendingPathComponent("data_batch_\(k).bin"))
        }
        try Data(Self.cifarRecord([9], 1, 2, 3)).write(to: folder.appendingPathComponent("test_batch.bin"))
        let train = try CIFAR.load10(folder: folder.path, split: .train)
        #expect(train.shape == [10, 3, 32, 32] && train.labels == [1, 0, 2, 0, 3, 0, 4, 0, 5, 0] && train.classCount == 10)
        let image = try train.images([4])  // batch 3's first record
        #expect(image[0] == 3 / 255 && image[1023] == 3 / 255 && image[1024] == 100 / 255 && image[3071] == 200 / 255)
        let test = try CIFAR.load10(folder: folder.path, split: .test)
        #expect(test.count == 1 && test.labels == [9])

        try Data(Self.cifarRecord([4, 77], 5, 5, 5) + Self.cifarRecord([19, 99], 6, 6, 6)).write(to: folder.appendingPathComponent("train.bin"))
        let fine = try CIFAR.load100(folder: folder.path, split: .train)
        let coarse = try CIFAR.load100(folder: folder.path, split: .train, labels: .coarse)
        #expect(fine.labels == [77, 99] && fine.classCount == 100 && coarse.labels == [4, 19] && coarse.classCount == 20)

        let odd = folder.appendingPathComponent("test.bin")
        try Data(Self.cifarRecord([1, 2], 0, 0, 0).dropLast()).write(to: odd)
        dataExpectError([odd.path, "3073 bytes is not a whole number of 3074-byte CIFAR records"]) {
            _ = try CIFAR.load100(folder: folder.path, split: .test)
        }
        try Data(Self.cifarRecord([10], 0, 0, 0)).write(to: folder.appendingPathComponent("test_batch.bin"))
        dataExpectError(["test_batch.bin", "record 0 has label 10"]) { _ = try CIFAR.load10(folder: folder.path, split: .test) }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("data_batch_4.bin"))
        dataExpectError(["data_batch_4.bin", "no such file"]) { _ = try CIFAR.load10(folder: folder.path, split: .train) }
    }

    /// A uint8 `.npy` file (NumPy.write writes float32 and int64 only).
    static func writeUInt8Npy(_ values: [UInt8], shape: [Int], to path: String) throws {
        try Data(NumPy.header(descr: "|u1", shape: shape) + values).write(to: URL(fileURLWithPath: path))
    }

    @Test(".npy images: (N, H, W) floats and (N, H, W, C) bytes converted to CHW, with labels; bad files are errors")
    func numpy() throws {
        let folder = try dataTestFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let x = folder.path + "/x.npy", y = folder.path + "/y.npy", rgb = folder.path + "/rgb.npy"
        let floats: [Float] = (0..<12).map { Float($0) / 11 }
        try NumPy.write(floats, shape: [2, 3, 2], to: x)
        try NumPy.write([Int64(4), 1], shape: [2], to: y)
        let gray = try NumPyImages.load(images: x, labels: y, name: "mine")
        #expect(gray.shape == [2, 1, 3, 2] && gray.pixels == .float(floats) && gray.labels == [4, 1] && gray.classCount == 5)
        // (1, 2, 2, 3) HWC: pixel (y, x) has channels (10·p, 10·p + 1, 10·p + 2) for p = 2y + x.
        let hwc: [UInt8] = (0..<4).flatMap { p in (0..<3).map { UInt8(10 * p + $0) } }
        try Self.writeUInt8Npy(hwc, shape: [1, 2, 2, 3], to: rgb)
        let color = try NumPyImages.load(images: rgb, classCount: nil)
        #expect(color.shape == [1, 3, 2, 2] && color.labels == nil && color.classCount == 0)
        #expect(color.pixels == .uint8([0, 10, 20, 30, 1, 11, 21, 31, 2, 12, 22, 32]))
        let chw = try NumPyImages.load(images: rgb, channelsLast: false)
        #expect(chw.shape == [1, 2, 2, 3] && chw.pixels == .uint8(hwc))

        let big = folder.path + "/big.npy"
        try NumPy.write([Float(0), 0.5, 255, 1], shape: [1, 2, 2], to: big)
        dataExpectError([big, "must lie in [0, 1]", "255"]) { _ = try NumPyImages.load(images: big) }
        let flat = folder.path + "/flat.npy"
        try NumPy.write([Float(0), 1], shape: [2], to: flat)
        dataExpectError([flat, "(N, H, W) or (N, H, W, C)"]) { _ = try NumPyImages.load(images: flat) }
        let three = folder.path + "/three.npy"
        try NumPy.write([Int64(0), 1, 2], shape: [3], to: three)
        dataExpectError([three, "3 labels", "2 images"]) { _ = try NumPyImages.load(images: x, labels: three) }
        dataExpectError([y, "label 4 of image 0 is outside 0..<3"]) { _ = try NumPyImages.load(images: x, labels: y, classCount: 3) }
        let negative = folder.path + "/negative.npy"
        try NumPy.write([Int64(0), -1], shape: [2], to: negative)
        dataExpectError([negative, "negative"]) { _ = try NumPyImages.load(images: x, labels: negative) }
        let floatLabels = folder.path + "/float-labels.npy"
        try NumPy.write([Float(0), 1], shape: [2], to: floatLabels)
        dataExpectError([floatLabels, "labels must be integers"]) { _ = try NumPyImages.load(images: x, labels: floatLabels) }
        dataExpectError([folder.path + "/none.npy", "no such file"]) { _ = try NumPyImages.load(images: folder.path + "/none.npy") }
    }

    @Test("the installed Fashion-MNIST: 60 000 + 10 000 balanced 28×28 images, training mean 0.2860",
          .enabled(if: FileManager.default.fileExists(atPath: FashionMNIST.defaultFolder)))
    func fashionMNIST() throws {
        let train = try FashionMNIST.load(split: .train), test = try FashionMNIST.load(split: .test)
        #expect(train.shape == [60_000, 1, 28, 28] && test.shape == [10_000, 1, 28, 28])
        #expect(train.name == "fashion-mnist/train" && train.classCount == 10)
        var perClass = [Int](repeating: 0, count: 10)
        for label in test.labels ?? [] { perClass[label] += 1 }
        #expect(perClass == Array(repeating: 1000, count: 10))
        guard case .uint8(let bytes) = train.pixels else { Issue.record("Fashion-MNIST pixels are not bytes"); return }
        let total = bytes.withUnsafeBufferPointer { $0.reduce(0) { $0 + Int($1) } }
        let mean = Double(total) / Double(bytes.count) / 255
        #expect(abs(mean - Double(Normalization.fashionMNIST.mean[0])) < 5e-4, "training mean \(mean)")
    }
}
