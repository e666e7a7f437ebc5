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
        let data = trainer.data, backend = trainer.backend
        let trainIndices = Array(0..<data.evalTrain.count), testIndices = Array(0..<data.evalTest.count)
        func scores(_ encoder: (any FeatureLayer)?) throws -> (RepresentationScores, FeatureMatrix) {
            let train = try Features.extract(encoder, dataset: data.evalTrain, indices: trainIndices,
                                             normalization: data.normalization, on: backend)
            let test = try Features.extract(encoder, dataset: data.evalTest, indices: testIndices,
                                            normalization: data.normalization, on: backend)
            return (try RepresentationEvaluation.score(train: train, trainLabels: data.evalTrain.labels ?? [], test: test,
                                                       testLabels: data.evalTest.labels ?? [], linearProbe: true, on: backend), test)
        }
        let raw = try scores(nil).0, random = try scores(randomEncoder).0
        let (trained, testFeatures) = try scores(trainer.objective.encoder)
        let layers = try layerScores(trainer, pixels: raw, encoderOutput: trained)
        let summary = RunSummary(
            method: trainer.config.method, encoder: trainer.config.encoder, device: backend.name, config: trainer.config,
            history: trainer.history,
            rows: [Row(representation: "raw pixels", scores: raw), Row(representation: "random-init encoder", scores: random),
                   Row(representation: "trained encoder", scores: trained)],
            layers: layers, evalTrainImages: data.evalTrain.count, evalTestImages: data.evalTest.count)
        return (summary, testFeatures)
    }

    /// Every representation of the trained network between the pixels and the encoder's output,
    /// and the head's output (`trainable[1]`: projector, or a method's head) after it.
    static func layerScores(_ trainer: Trainer, pixels: RepresentationScores,
                            encoderOutput: RepresentationScores) throws -> [Row] {
        let data = trainer.data, backend = trainer.backend, encoder = trainer.objective.encoder
        let head = trainer.objective.trainable.dropFirst().first
        let train = try Features.extractLayers(encoder, head: head, dataset: data.evalTrain, indices: Array(0..<data.evalTrain.count),
                                               normalization: data.normalization, on: backend)
        let test = try Features.extractLayers(encoder, head: head, dataset: data.evalTest, indices: Array(0..<data.evalTest.count),
                                              normalization: data.normalization, on: backend)
        let last = encoder.stages.count  // the encoder's output: scored already
        return try zip(train, test).enumerated().map { k, pair in
            let scores = k == 0 ? pixels : k == last ? encoderOutput
                : try RepresentationEvaluation.score(train: pair.0.features, trainLabels: data.evalTrain.labels ?? [],
                                                     test: pair.1.features, testLabels: data.evalTest.labels ?? [],
                                                     linearProbe: true, on: backend)
            return Row(representation: pair.0.name, scores: scores)
        }
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
        let projected = PCA.project(Array(testFeatures.values[0..<(points * testFeatures.columns)]), rows: points,
                                    cols: testFeatures.columns)
        svg.scatter = (0..<points).map { (projected[2 * $0], projected[2 * $0 + 1], testLabels[$0]) }
        try AtomicFile.write(Data(svg.render().utf8), to: URL(fileURLWithPath: files.report))
    }
}
