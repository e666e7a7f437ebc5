// `ssl embed`: the trained encoder's features of a data set split, as .npy.
import ArgumentParser
import Foundation
import SSLCommandLine
import SSLTrain

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Export the embeddings of a trained encoder (from a training checkpoint) as .npy.")

    @Option(help: "A checkpoint.npz written by ssl train.") var checkpoint: String
    @Option(help: "Data set (default: the one the run trained on).") var dataset: String?
    @Option(help: "Split: train or test.") var split: String = "test"
    @Option(help: "Embed only the first N images.") var limit: Int?
    @Option(help: "Output .npy (N, D) float32; labels go to the same name with _labels (int64).") var out: String
    @OptionGroup var device: DeviceOptions

    func validate() throws {
        guard ["train", "test"].contains(split) else { throw ValidationError("--split must be train or test, got \(split)") }
        if let limit, limit < 1 { throw ValidationError("--limit must be positive") }
    }

    /// Where the labels go: `--out`'s name with `_labels`.
    private var labelPath: String { (out.hasSuffix(".npy") ? String(out.dropLast(4)) : out) + "_labels.npy" }

    func run() throws {
        for output in [out, labelPath] { try refuseOverwriting([checkpoint], with: output) }
        let backend = try device.backend()
        let probeConfig = try TrainedEncoder.peekConfig(checkpoint)
        let data = try DataSources.load(dataset ?? probeConfig.dataset, trainSubset: nil, evalTrain: Int.max, evalTest: Int.max)
        let images = split == "train" ? data.evalTrain : data.evalTest
        let (encoder, _) = try TrainedEncoder.load(checkpoint, channels: images.channels, imageSize: images.height, on: backend)
        let count = min(limit ?? images.count, images.count)
        let features = try Features.extract(encoder, dataset: images, indices: Array(0..<count),
                                            normalization: data.normalization, on: backend)
        try NumPy.write(features.values, shape: [features.rows, features.columns], to: out)
        if let labels = images.labels {
            try NumPy.write(labels.prefix(count).map(Int64.init), shape: [count], to: labelPath)
        }
        print("wrote \(out): \(features.rows)×\(features.columns)")
    }
}
