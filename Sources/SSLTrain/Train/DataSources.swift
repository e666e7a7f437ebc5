// The data sets `--dataset` names, split into training images and labelled evaluation subsets.
import SSLCore

public enum DataSources {
    /// The class names of the known data sets, in label order; nil for others (`npy:`).
    public static func classNames(_ spec: String) -> [String]? {
        switch spec.split(separator: ":", maxSplits: 1).first.map(String.init) ?? spec {
        case "fashion-mnist":
            return ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
        case "mnist":
            return (0...9).map(String.init)
        case "cifar10":
            return ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        default:
            return nil
        }
    }

    /// The files `spec` names itself (those of `npy:`); the folder kinds read files of fixed
    /// names inside their folder.
    public static func namedFiles(_ spec: String) -> [String] {
        guard spec.hasPrefix("npy:") else { return [] }
        return spec.dropFirst(4).split(separator: ",").map(String.init)
    }

    /// `fashion-mnist` (the Debian package's files), `mnist:FOLDER`, `fashion-mnist:FOLDER`,
    /// `cifar10:FOLDER`, or `npy:TRAIN_IMAGES.npy,TRAIN_LABELS.npy,TEST_IMAGES.npy,TEST_LABELS.npy`.
    /// - Parameters:
    ///   - spec: the data set, as above.
    ///   - trainSubset: train on the first N training images only; nil for all.
    ///   - evalTrain: the kNN bank and probe's training set: the first N training images.
    ///   - evalTest: the images scored: the first N test images.
    ///   - validation: hold out the last N training images as the evaluation split in
    ///     place of the test split, which is then never read (choosing recipes on held-out data).
    public static func load(_ spec: String, trainSubset: Int?, evalTrain: Int, evalTest: Int,
                            validation: Int? = nil) throws -> TrainingData {
        let (kind, argument) = spec.firstIndex(of: ":").map { (String(spec[..<$0]), String(spec[spec.index(after: $0)...])) }
            ?? (spec, "")
        var train: ImageDataset, test: ImageDataset
        let normalization: Normalization
        let held = validation != nil
        switch kind {
        case "fashion-mnist":
            let folder = argument.isEmpty ? FashionMNIST.defaultFolder : argument
            train = try FashionMNIST.load(folder: folder, split: .train)
            test = held ? train : try FashionMNIST.load(folder: folder, split: .test)
            normalization = .fashionMNIST
        case "mnist":
            train = try MNIST.load(folder: argument, split: .train)
            test = held ? train : try MNIST.load(folder: argument, split: .test)
            normalization = .mnist
        case "cifar10":
            train = try CIFAR.load10(folder: argument, split: .train)
            test = held ? train : try CIFAR.load10(folder: argument, split: .test)
            normalization = .cifar10
        case "npy":
            let paths = argument.split(separator: ",").map(String.init)
            guard paths.count == 4 else {
                throw SSLError.invalidArgument(op: "dataset", detail: "npy: needs TRAIN_IMAGES,TRAIN_LABELS,TEST_IMAGES,TEST_LABELS, got '\(argument)'")
            }
            train = try NumPyImages.load(images: paths[0], labels: paths[1])
            test = held ? train : try NumPyImages.load(images: paths[2], labels: paths[3])
            normalization = .identity(channels: train.channels)
        default:
            throw SSLError.invalidArgument(op: "dataset", detail: "unknown data set '\(spec)' (fashion-mnist, mnist:DIR, cifar10:DIR, npy:…)")
        }
        guard train.labels != nil, test.labels != nil else {
            throw SSLError.invalidArgument(op: "dataset", detail: "\(spec): evaluation needs labels for both splits")
        }
        // One encoder sees both splits: found here, not as a layer's shape mismatch.
        let trainShape = [train.channels, train.height, train.width], testShape = [test.channels, test.height, test.width]
        guard trainShape == testShape else {
            let text = { (s: [Int]) in s.map(String.init).joined(separator: "×") }
            throw SSLError.invalidArgument(op: "dataset", detail: "\(spec): the test images are \(text(testShape)) (channels × height "
                                           + "× width) but the training images \(text(trainShape)); both splits need one shape")
        }
        if let validation {
            guard validation < train.count else {
                throw SSLError.invalidArgument(op: "dataset", detail: "--validation \(validation) leaves no training image of \(train.count)")
            }
            test = try train.slice((train.count - validation)..<train.count)
            train = try train.slice(0..<(train.count - validation))
        }
        let trainImages = try trainSubset.map { try train.slice(0..<min($0, train.count)) } ?? train
        return TrainingData(train: trainImages,
                            evalTrain: try train.slice(0..<min(evalTrain, train.count)),
                            evalTest: try test.slice(0..<min(evalTest, test.count)),
                            normalization: normalization)
    }
}
