// Frozen features: the encoder (or raw pixels) over a labelled set, in evaluation mode, and the
// three measures the report gives them: weighted kNN, silhouette, linear probe.
import SSLCore

/// Normalised full images (no augmentation) through `encoder` in evaluation mode, in batches.
public enum Features {
    /// Encoder features `(indices.count, D)`, or the normalised pixels when `encoder` is nil.
    public static func extract(_ encoder: (any FeatureLayer)?, dataset: ImageDataset, indices: [Int],
                               normalization: Normalization, batch: Int = 512, on backend: any Backend) throws -> FeatureMatrix {
        func run() throws -> FeatureMatrix {
            try collect(dataset: dataset, indices: indices, normalization: normalization, batch: batch, on: backend,
                        names: [encoder == nil ? "pixels" : "features"]) { x in [try encoder.map { try $0(x) } ?? x] }[0]
        }
        return try encoder?.evaluating(run) ?? run()
    }

    /// The representations of a network layer by layer: the normalised pixels, the output of every
    /// stage of `encoder` (``FeatureLayer/stages``; the last is the encoder's output), and `head`'s
    /// output on the encoder's (the projector's, or a method's head), in evaluation mode.
    /// - Returns: `(name, features)` in that order; multi-dimensional outputs are flattened per image.
    public static func extractLayers(_ encoder: any FeatureLayer, head: (any Layer)?, dataset: ImageDataset, indices: [Int],
                                     normalization: Normalization, batch: Int = 512,
                                     on backend: any Backend) throws -> [(name: String, features: FeatureMatrix)] {
        let stages = encoder.stages
        let names = ["pixels"] + stages.map(\.name) + (head == nil ? [] : ["head output"])
        let network = Sequential([encoder] + (head.map { [$0] } ?? []))
        let matrices = try network.evaluating {
            try collect(dataset: dataset, indices: indices, normalization: normalization, batch: batch, on: backend,
                        names: names) { x in
                var outputs = [x], y = x
                for stage in stages {
                    y = try stage.layer(y)
                    outputs.append(y)
                }
                if let head { outputs.append(try head(y)) }
                return outputs
            }
        }
        return Array(zip(names, matrices))
    }

    /// Runs `outputs` on the normalised images of `indices` in batches and gathers each of its
    /// outputs, flattened per image, into one matrix.
    private static func collect(dataset: ImageDataset, indices: [Int], normalization: Normalization, batch: Int,
                                on backend: any Backend, names: [String],
                                _ outputs: (Tensor) throws -> [Tensor]) throws -> [FeatureMatrix] {
        let output = AugmentOutput(height: dataset.height, width: dataset.width,
                                   mean: normalization.mean, std: normalization.std)
        var values = [[Float]](repeating: [], count: names.count), columns = [Int](repeating: 0, count: names.count)
        for start in stride(from: 0, to: indices.count, by: batch) {
            let chunk = Array(indices[start..<min(start + batch, indices.count)])
            let images = try dataset.upload(chunk, to: backend)
            let views = chunk.indices.map { AugmentView(source: $0, top: 0, left: 0, height: dataset.height, width: dataset.width) }
            for (k, y) in try outputs(try backend.augment(images, views: views, output: output)).enumerated() {
                columns[k] = y.count / chunk.count
                if values[k].isEmpty { values[k].reserveCapacity(indices.count * columns[k]) }
                values[k] += try backend.download(y)
            }
        }
        return try names.indices.map { try FeatureMatrix(values: values[$0], rows: indices.count, columns: columns[$0], name: names[$0]) }
    }
}

/// kNN accuracy, silhouette and linear-probe accuracy of one representation.
public struct RepresentationScores: Codable, Equatable {
    public var knnTop1: Double
    /// kNN top-1 with the first ``RepresentationEvaluation/smallBank`` images of the bank, where the
    /// bank is larger (the 10 000-image bank of earlier tables, next to the whole training set).
    public var knnTop1SmallBank: Double?
    public var silhouette: Double
    /// The nearest-neighbour margin on the test features (``NearestNeighbourMargin``): cosine
    /// (the kNN's geometry) and euclidean (the silhouette's).
    public var marginCosine: MarginScore?
    public var marginEuclidean: MarginScore?
    public var linearProbe: Double?
}

/// A ``NearestNeighbourMargin`` summarised: the mean margin and the share of positive margins.
public struct MarginScore: Codable, Equatable, Sendable {
    public var mean: Double
    public var positiveShare: Double

    public init(_ result: NearestNeighbourMargin.Result) {
        (mean, positiveShare) = (result.mean, result.positiveShare)
    }
}

public enum RepresentationEvaluation {
    /// The smaller kNN bank reported beside the whole one.
    public static let smallBank = 10_000

    /// Scores `train`/`test` features with their labels: weighted kNN (k 20, T 0.07) and the
    /// linear probe trained on `train`; silhouette (euclidean, true labels) and the
    /// nearest-neighbour margins (cosine, euclidean) on `test`.
    public static func score(train: FeatureMatrix, trainLabels: [Int], test: FeatureMatrix, testLabels: [Int],
                             linearProbe: Bool, on backend: any Backend) throws -> RepresentationScores {
        func knn(_ bank: FeatureMatrix) throws -> Double {
            let labels = Array(trainLabels.prefix(bank.rows))
            let r = try KNNClassifier(k: min(20, bank.rows)).classify(train: bank, labels: labels, test: test, on: backend)
            return try EvalMetrics.accuracy(predictions: r.predictions, labels: testLabels)
        }
        let knnAccuracy = try knn(train)
        let small = train.rows > smallBank
            ? try knn(try FeatureMatrix(values: Array(train.values.prefix(smallBank * train.columns)), rows: smallBank,
                                        columns: train.columns))
            : nil
        let silhouette = try Silhouette().score(test, labels: testLabels, on: backend)
        var probe: Double? = nil
        if linearProbe {
            let model = try LinearProbe().fit(train, labels: trainLabels, on: backend)
            probe = try EvalMetrics.accuracy(predictions: try model.predict(test, on: backend), labels: testLabels)
        }
        let margins = try [DistanceMetric.cosine, .euclidean].map {
            MarginScore(try NearestNeighbourMargin(metric: $0).evaluate(test, labels: testLabels, on: backend))
        }
        return RepresentationScores(knnTop1: knnAccuracy, knnTop1SmallBank: small, silhouette: silhouette, marginCosine: margins[0],
                                    marginEuclidean: margins[1], linearProbe: probe)
    }
}
