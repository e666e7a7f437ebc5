// The end of a run: raw pixels, the randomly initialised encoder and the trained encoder scored
// side by side, written as metrics.json and report.svg and printed as one table.
import Foundation
import SSLCore

public struct RunSummary: Codable {
    public struct Row: Codable {
        public let representation: String
        public let scores: RepresentationScores

        public init(representation: String, scores: RepresentationScores) {
            (self.representation, self.scores) = (representation, scores)
        }
    }

    public let method: Method
    public let encoder: String
    public let device: String
    public let config: TrainConfig
    public let history: History
    public let rows: [Row]
    /// The trained network layer by layer (``Features/extractLayers(_:head:dataset:indices:normalization:batch:on:)``):
    /// the pixels, every stage of the encoder (the last is the trained encoder's row), the head's output.
    public let layers: [Row]
    public let evalTrainImages: Int, evalTestImages: Int

    /// Scores the three representations on the evaluation subsets of `trainer`'s data.
    public static func evaluate(_ trainer: Trainer, randomEncoder: any FeatureLayer) throws -> (RunSummary, FeatureMatrix) {
        let data = trainer.data, backend = trainer.backend, encoder = trainer.objective.encoder
        // One pass of the trained network gives the pixels, every layer and the encoder's output.
        let (layers, testFeatures) = try scoreLayers(encoder, head: trainer.objective.trainable.dropFirst().first, data: data,
                                                     on: backend)
        let raw = layers[0].scores, trained = layers[encoder.stages.count].scores
        func features(_ set: ImageDataset) throws -> FeatureMatrix {
            try Features.extract(randomEncoder, dataset: set, indices: Array(0..<set.count), normalization: data.normalization, on: backend)
        }
        let random = try RepresentationEvaluation.score(train: try features(data.evalTrain), trainLabels: data.evalTrain.labels ?? [],
                                                        test: try features(data.evalTest), testLabels: data.evalTest.labels ?? [],
                                                        linearProbe: true, on: backend)
        let summary = RunSummary(
            method: trainer.config.method, encoder: trainer.config.encoder, device: backend.name, config: trainer.config,
            history: trainer.history,
            rows: [Row(representation: "raw pixels", scores: raw), Row(representation: "random-init encoder", scores: random),
                   Row(representation: "trained encoder", scores: trained)],
            layers: layers, evalTrainImages: data.evalTrain.count, evalTestImages: data.evalTest.count)
        return (summary, testFeatures[encoder.stages.count])
    }

    /// Scores the pixels, every stage of `encoder` and `head`'s output on `data`'s evaluation
    /// images (``Features/extractLayers(_:head:dataset:indices:normalization:batch:on:)``);
    /// returns the rows and each one's test features.
    public static func scoreLayers(_ encoder: any FeatureLayer, head: (any Layer)?, data: TrainingData,
                                   on backend: any Backend) throws -> (rows: [Row], testFeatures: [FeatureMatrix]) {
        func layers(_ set: ImageDataset) throws -> [(name: String, features: FeatureMatrix)] {
            try Features.extractLayers(encoder, head: head, dataset: set, indices: Array(0..<set.count),
                                       normalization: data.normalization, on: backend)
        }
        let (train, test) = (try layers(data.evalTrain), try layers(data.evalTest))
        let rows = try zip(train, test).map { train, test in
            Row(representation: train.name, scores: try RepresentationEvaluation.score(
                train: train.features, trainLabels: data.evalTrain.labels ?? [], test: test.features,
                testLabels: data.evalTest.labels ?? [], linearProbe: true, on: backend))
        }
        return (rows, test.map(\.features))
    }

    /// The table the main job prints.
    public var table: String {
        var lines = ["\(method.paper), \(encoder) encoder, \(device)",
                     "local first: kNN (k 20, T 0.07; bank \(evalTrainImages), test \(evalTestImages)), nearest-neighbour margin "
                         + "(test, cosine: mean, share > 0), silhouette (test, euclidean); then the linear probe"]
        lines += Self.tableLines(rows)
        lines += ["the trained network by layer:"] + Self.tableLines(layers)
        lines.append(String(format: "training: %d steps, %.0f s, %.0f images/s", history.losses.count, history.wallSeconds,
                            history.imagesPerSecond))
        return lines.joined(separator: "\n")
    }

    /// A header and one line per row: kNN, the cosine margin (mean, share > 0), silhouette, probe.
    public static func tableLines(_ rows: [Row]) -> [String] {
        func pad(_ s: String, _ width: Int) -> String { s.padding(toLength: max(width, s.count + 1), withPad: " ", startingAt: 0) }
        return [pad("representation", 22) + pad("kNN top-1", 11) + pad("NN margin", 20) + pad("silhouette", 12) + "linear probe"]
            + rows.map { row in
                let margin = row.scores.marginCosine.map { String(format: "%.4f, %.1f%%", $0.mean, $0.positiveShare * 100) } ?? "-"
                return pad(row.representation, 22) + pad(String(format: "%.2f%%", row.scores.knnTop1 * 100), 11)
                    + pad(margin, 20) + pad(String(format: "%.4f", row.scores.silhouette), 12)
                    + (row.scores.linearProbe.map { String(format: "%.2f%%", $0 * 100) } ?? "-")
            }
    }

    /// Writes `metrics.json` and `report.svg` into the run's folder, atomically.
    public func write(_ files: RunFiles, testFeatures: FeatureMatrix, testLabels: [Int]) throws {
        let json = JSONEncoder()
        json.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try json.encode(self), to: URL(fileURLWithPath: files.metrics))
        let deviceName = device.split(separator: "[").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? device
        var svg = ReportSVG(title: "\(method.paper) — \(encoder) encoder — \(deviceName)")
        svg.loss = history.losses.enumerated().map { ($0.offset, $0.element) }
        svg.knnAccuracy = history.knn.map { (Int($0[0]), $0[1]) }
        // The training curve's kNN runs on the same bank and test images as these rows.
        svg.knnReferences = rows.filter { $0.representation != "trained encoder" }.map { ($0.representation, $0.scores.knnTop1) }
        svg.classNames = DataSources.classNames(config.dataset) ?? []
        svg.layers = layers.map { ($0.representation, $0.scores.knnTop1, $0.scores.linearProbe) }
        let points = min(testFeatures.rows, 2000)
        let projected = try PCA.project(Array(testFeatures.values[0..<(points * testFeatures.columns)]), rows: points,
                                    cols: testFeatures.columns)
        svg.scatter = (0..<points).map { (projected[2 * $0], projected[2 * $0 + 1], testLabels[$0]) }
        try AtomicFile.write(Data(svg.render().utf8), to: URL(fileURLWithPath: files.report))
    }
}
