// `ssl eval …`: weighted kNN, silhouette and the linear probe on frozen features in .npy files.
import ArgumentParser
import Foundation
import SSLCommandLine
import SSLCore
import SSLTrain

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate frozen features.",
        discussion: """
            Features are 2-D float32/float64 .npy files (N, D); labels 1-D int32/int64/uint8 .npy \
            files of N entries. Results go to --out DIR (created when missing), written atomically.
            """,
        subcommands: [KNN.self, Margin.self, SilhouetteScore.self, Linear.self, Layers.self])

    struct KNN: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "knn",
            abstract: "Weighted k-NN (DINO's eval_knn.py): writes DIR/predictions.npy (int64), prints the accuracy.")

        @OptionGroup var data: EvalTrainTestFiles
        @Option(help: "Neighbours k (DINO's default 20; it also reports 10, 100, 200).") var k = EvalReference.defaultK
        @Option(help: "Vote temperature T (DINO's default 0.07).") var temperature = EvalReference.defaultTemperature
        @Option(help: "Output folder.") var out: String
        @OptionGroup var device: DeviceOptions

        func validate() throws {
            guard k >= 1 else { throw ValidationError("--k must be at least 1, got \(k)") }
            guard temperature > 0, temperature.isFinite else { throw ValidationError("--temperature must be positive, got \(temperature)") }
        }

        func run() throws {
            let sets = try data.read()
            let folder = try OutputFolder(out, inputs: data.paths)
            let backend = try device.backend()
            let result = try KNNClassifier(k: k, temperature: temperature)
                .classify(train: sets.train, labels: sets.trainLabels, test: sets.test, on: backend)
            try folder.write([("predictions", .labels(result.predictions))], on: backend)
            print(try accuracyLine("\(k)-NN top-1 accuracy", result.predictions, sets.testLabels))
        }
    }

    struct SilhouetteScore: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "silhouette",
            abstract: "scikit-learn's silhouette: writes DIR/samples.npy (float32), prints the score.")

        @OptionGroup var data: LabelledFeatureFiles
        @Option(help: "euclidean (scikit-learn's default) or cosine.") var metric: DistanceMetric = .euclidean
        @Option(help: "Output folder.") var out: String
        @OptionGroup var device: DeviceOptions

        func run() throws {
            let (x, y) = try data.read()
            let folder = try OutputFolder(out, inputs: data.paths)
            let backend = try device.backend()
            let s = try Silhouette(metric: metric).samples(x, labels: y, on: backend)
            try folder.write([("samples", .floats(s, shape: [s.count]))], on: backend)
            print(String(format: "silhouette score (%@): %.6f", metric.rawValue, Silhouette.score(of: s)))
        }
    }

    struct Margin: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "margin",
            abstract: "Nearest-neighbour margin: d(nearest of another class) − d(nearest other of the same class).",
            discussion: """
                Writes DIR/samples.npy (float32, N; NaN where a sample has no margin: its class has \
                no other member) and prints the mean margin and the share of positive margins.
                """)

        @OptionGroup var data: LabelledFeatureFiles
        @Option(help: "euclidean or cosine.") var metric: DistanceMetric = .euclidean
        @Option(help: "Output folder.") var out: String
        @OptionGroup var device: DeviceOptions

        func run() throws {
            let (x, y) = try data.read()
            let folder = try OutputFolder(out, inputs: data.paths)
            let backend = try device.backend()
            let m = try NearestNeighbourMargin(metric: metric).evaluate(x, labels: y, on: backend)
            // NaN marks "no margin" on purpose here, so the samples skip the folder's NaN check.
            try NumPy.write(m.samples.map { $0 ?? .nan }, shape: [m.samples.count], to: try folder.file("samples"))
            print(String(format: "nearest-neighbour margin (%@): mean %.6f, positive %.2f%% of %d samples", metric.rawValue,
                         m.mean, 100 * m.positiveShare, m.samples.compactMap { $0 }.count))
        }
    }

    struct Layers: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "layers",
            abstract: "A trained network layer by layer: kNN, NN margin, silhouette and linear probe of the pixels, every hidden layer, the encoder output and the head output.",
            discussion: """
                Rebuilds the network of a checkpoint written by ssl train and evaluates each \
                representation on the run's evaluation images (its bank and test, or --validation \
                split) unless told otherwise. Local measures come first: a linear probe can rise \
                layer by layer while neighbours agree less.
                """)

        @Option(help: "A checkpoint.npz written by ssl train.") var checkpoint: String
        @Option(help: "Data set (default: the run's).") var dataset: String?
        @Option(help: "Labelled training images for the kNN bank and the probe (default: the run's).") var evalTrain: Int?
        @Option(help: "Test images (default: the run's).") var evalTest: Int?
        @Option(help: "Hold out the last N training images as the test images (default: the run's choice).") var validation: Int?
        @OptionGroup var device: DeviceOptions

        func validate() throws {
            for (name, value) in [("--eval-train", evalTrain), ("--eval-test", evalTest), ("--validation", validation)] {
                if let value, value < 1 { throw ValidationError("\(name) must be at least 1, got \(value)") }
            }
        }

        func run() throws {
            let backend = try device.backend()
            let config = try TrainedEncoder.peekConfig(checkpoint)
            let data = try DataSources.load(dataset ?? config.dataset, trainSubset: config.trainSubset,
                                            evalTrain: evalTrain ?? config.evalTrain, evalTest: evalTest ?? config.evalTest,
                                            validation: validation ?? config.validation)
            let (encoder, head, _) = try TrainedEncoder.loadNetwork(checkpoint, data: data, on: backend)
            let rows = try RunSummary.scoreLayers(encoder, head: head, data: data, on: backend).rows
            print("\(config.method.paper), \(config.encoder) encoder; bank \(data.evalTrain.count), test \(data.evalTest.count)")
            print(RunSummary.tableLines(rows).joined(separator: "\n"))
        }
    }

    struct Linear: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "linear",
            abstract: "Linear probe (logistic regression, L-BFGS): writes DIR/predictions.npy (int64, test), prints both accuracies.")

        @OptionGroup var data: EvalTrainTestFiles
        @Option(help: "Inverse L2 regularisation strength C (scikit-learn's default 1.0).") var c: Double = 1
        @Option(help: "L-BFGS iterations at most (scikit-learn's max_iter 100).") var maxIterations = 100
        @Option(help: "Stop when every gradient component is at most this (scikit-learn's tol).") var tolerance = 1e-4
        @Option(help: "Output folder.") var out: String
        @OptionGroup var device: DeviceOptions

        func validate() throws {
            guard c > 0, c.isFinite else { throw ValidationError("--c must be positive, got \(c)") }
            guard maxIterations >= 1 else { throw ValidationError("--max-iterations must be at least 1, got \(maxIterations)") }
            guard tolerance > 0 else { throw ValidationError("--tolerance must be positive, got \(tolerance)") }
        }

        func run() throws {
            let sets = try data.read()
            let folder = try OutputFolder(out, inputs: data.paths)
            let backend = try device.backend()
            let model = try LinearProbe(c: c, maxIterations: maxIterations, tolerance: tolerance)
                .fit(sets.train, labels: sets.trainLabels, on: backend)
            let trainPredictions = try model.predict(sets.train, on: backend)
            let testPredictions = try model.predict(sets.test, on: backend)
            try folder.write([("predictions", .labels(testPredictions))], on: backend)
            printError("L-BFGS: \(model.iterations) iterations, objective \(model.objective)")
            print(try accuracyLine("linear probe train accuracy", trainPredictions, sets.trainLabels))
            print(try accuracyLine("linear probe test accuracy", testPredictions, sets.testLabels))
        }
    }
}

extension DistanceMetric: ExpressibleByArgument {}

/// The two files of a one-set evaluation: features and a label per row (clusters for the
/// silhouette, classes for the margin).
struct LabelledFeatureFiles: ParsableArguments {
    @Option(help: "Features, (N, D).") var features: String
    @Option(help: "Labels, (N): clusters (2...N−1 distinct values) for the silhouette, classes for the margin.") var labels: String

    var paths: [String] { [features, labels] }

    func read() throws -> (features: FeatureMatrix, labels: [Int]) {
        let x = try readFeatures(features, name: "features")
        return (x, try readLabels(labels, name: "labels", count: x.rows, featuresPath: features))
    }
}

/// The four files of a train/test evaluation.
struct EvalTrainTestFiles: ParsableArguments {
    @Option(help: "Train features, (N, D).") var trainFeatures: String
    @Option(help: "Train labels, (N).") var trainLabels: String
    @Option(help: "Test features, (M, D).") var testFeatures: String
    @Option(help: "Test labels, (M).") var testLabels: String

    var paths: [String] { [trainFeatures, trainLabels, testFeatures, testLabels] }

    func read() throws -> (train: FeatureMatrix, trainLabels: [Int], test: FeatureMatrix, testLabels: [Int]) {
        let train = try readFeatures(trainFeatures, name: "train features")
        let test = try readFeatures(testFeatures, name: "test features")
        guard train.columns == test.columns else {
            throw SSLError.shapeMismatch(op: "eval", detail: "train features \(trainFeatures) have \(train.columns) columns "
                                         + "but test features \(testFeatures) have \(test.columns)")
        }
        return (train, try readLabels(trainLabels, name: "train labels", count: train.rows, featuresPath: trainFeatures),
                test, try readLabels(testLabels, name: "test labels", count: test.rows, featuresPath: testFeatures))
    }
}

/// A 2-D float array as features, refusing NaN and Inf with the file's name.
private func readFeatures(_ path: String, name: String) throws -> FeatureMatrix {
    let (values, shape) = try readMatrix(path, name: name)
    return try FeatureMatrix(values: values, rows: shape[0], columns: shape[1], name: "\(name) (\(path))")
}

/// A 1-D integer array of `count` labels; a length that differs from the features' names both files.
private func readLabels(_ path: String, name: String, count: Int, featuresPath: String) throws -> [Int] {
    let array = try NumPy.read(path)
    try array.requireRank(1, name: name)
    let labels = try array.integers()
    guard labels.count == count else {
        throw SSLError.npy(file: path, reason: "\(name): \(labels.count) labels for the \(count) rows of \(featuresPath)")
    }
    return labels.map { Int($0) }
}

private func accuracyLine(_ what: String, _ predictions: [Int], _ labels: [Int]) throws -> String {
    let share = try EvalMetrics.accuracy(predictions: predictions, labels: labels)
    return String(format: "%@: %.2f%% (%d/%d)", what, 100 * share, Int((share * Double(labels.count)).rounded()), labels.count)
}
