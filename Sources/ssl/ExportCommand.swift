// `ssl export`: a trained network as safetensors with PyTorch's state_dict names.
import ArgumentParser
import Foundation
import SSLCore
import SSLTrain

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a trained encoder (with --heads, every trained module) as safetensors that PyTorch loads.",
        discussion: """
            The names are those of the PyTorch module of the same architecture (nn.Sequential \
            indices; batch norm's running_mean, running_var and num_batches_tracked); the command \
            prints the Python that builds the module and loads the file, and stores the module's \
            constructor in the file's metadata.
            """)

    @Option(help: "A checkpoint.npz written by ssl train.") var checkpoint: String
    @Option(help: "The .safetensors file to write.") var out: String
    @Flag(help: "Also the heads (projector, predictor, prototypes…), each name prefixed by its module's.") var heads = false
    @Option(help: "Data set whose image shape the run used (default: the one it trained on).") var dataset: String?

    func run() throws {
        try refuseOverwriting([checkpoint], with: out)
        let backend = ReferenceBackend()  // the weights only travel from the file to the file
        let config = try TrainedEncoder.peekConfig(checkpoint)
        let data = try DataSources.load(dataset ?? config.dataset, trainSubset: nil, evalTrain: 1, evalTest: 1)
        let (objective, _, steps) = try TrainedEncoder.loadObjective(checkpoint, data: data, on: backend)
        let (file, python) = try TorchModule.export(objective, heads: heads, batchesTracked: Int64(steps), on: backend)
        try file.write(to: out)
        print("wrote \(out): \(file.entries.count) tensors of \(config.method.rawValue)'s \(heads ? "modules" : "encoder"); in Python:")
        print(python + "model.load_state_dict(load_file(\"\(out)\"))\nmodel.eval()")
    }
}
