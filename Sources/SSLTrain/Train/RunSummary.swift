// The end of a run: raw pixels, the randomly initialised encoder and the trained encoder scored
// side by side, written as metrics.json and report.svg and printed as one table.
import Foundation
import SSLCore

public struct RunSummary: Codable {
    public struct Row: Codable {
        public let representation: String
        public let scores: RepresentationScores
    }

    public let method: Method
    public let encoder: String
    public let device: String
    public let config: TrainConfig
    public let history: History
    public let rows: [Row]
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
        let summary = RunSummary(
            method: trainer.config.method, encoder: trainer.config.encoder, device: backend.name, config: trainer.config,
            history: trainer.history,
            rows: [Row(representation: "raw pixels", scores: raw), Row(representation: "random-init encoder", scores: random),
                   Row(representation: "trained encoder", scores: trained)],
            evalTrainImages: data.evalTrain.count, evalTestImages: data.evalTest.count)
        return (summary, testFeatures)
    }

    /// The table the main job prints.
    public var table: String {
        var lines = ["\(method.paper), \(encoder) encoder, \(device)",
                     "local first: kNN (k 20, T 0.07; bank \(evalTrainImages), test \(evalTestImages)), nearest-neighbour margin "
                         + "(test, cosine: mean, share > 0), silhouette (test, euclidean); then the linear probe",
                     pad("representation", 22) + pad("kNN top-1", 11) + pad("NN margin", 20) + pad("silhouette", 12) + "linear probe"]
        for row in rows {
            let margin = row.scores.marginCosine.map { String(format: "%.4f, %.1f%%", $0.mean, $0.positiveShare * 100) } ?? "-"
            lines.append(pad(row.representation, 22) + pad(String(format: "%.2f%%", row.scores.knnTop1 * 100), 11)
                         + pad(margin, 20) + pad(String(format: "%.4f", row.scores.silhouette), 12)
                         + (row.scores.linearProbe.map { String(format: "%.2f%%", $0 * 100) } ?? "-"))
        }
        lines.append(String(format: "training: %d steps, %.0f s, %.0f images/s", history.losses.count, history.wallSeconds,
                            history.imagesPerSecond))
        return lines.joined(separator: "\n")
    }

    private func pad(_ s: String, _ width: Int) -> String { s.padding(toLength: max(width, s.count + 1), withPad: " ", startingAt: 0) }

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
        let points = min(testFeatures.rows, 2000)
        let projected = PCA.project(Array(testFeatures.values[0..<(points * testFeatures.columns)]), rows: points,
                                    cols: testFeatures.columns)
        svg.scatter = (0..<points).map { (projected[2 * $0], projected[2 * $0 + 1], testLabels[$0]) }
        try AtomicFile.write(Data(svg.render().utf8), to: URL(fileURLWithPath: files.report))
    }
}
