// `ssl export`: the safetensors format against Python's writer, hostile files, and exported
// networks whose PyTorch outputs (Tests/Fixtures/export/make_export_fixtures.py) match ours.
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

@Suite struct ExportTests {
    static let folder = Fixtures.folder.appendingPathComponent("export")
    static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
    static func bytes(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: folder.appendingPathComponent(name))) }

    /// What make_export_fixtures.py gave safetensors.torch.save_file.
    static func formatFixture() throws -> SafeTensors {
        var file = SafeTensors(metadata: ["format": "pt"])
        try file.add("b.weight", .float32([0, 1, 2, 3, 4, 5]), shape: [2, 3])
        try file.add("a.num_batches_tracked", .int64([7]), shape: [])
        try file.add("a.bias", .float32([1.5, -2.25]), shape: [2])
        try file.add("z.count", .int64([-3, 4]), shape: [2])
        try file.add("empty", .float32([]), shape: [0, 3])
        return file
    }

    static func headerLength(_ bytes: [UInt8]) -> Int {
        Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
    }

    @Test("the writer gives Python safetensors' bytes; the reader reads them back")
    func format() throws {
        let python = try Self.bytes("format.safetensors"), ours = try Self.formatFixture()
        #expect(ours.encoded() == python)
        let parsed = try SafeTensors(bytes: python, source: "format.safetensors")
        #expect(parsed.metadata == ["format": "pt"])
        for entry in ours.entries { #expect(parsed[entry.name] == entry, "\(entry.name)") }
        #expect(parsed.entries.count == ours.entries.count)
        // The layout rules, spelled out: the header length, JSON padded to 8, data from there.
        let length = Self.headerLength(python)
        #expect(length % 8 == 0 && python.count == 8 + length + 3 * 8 + 8 * 4, "three int64 and eight float32 values")
    }

    @Test("a damaged or hostile file is an error naming what is wrong", arguments: [
        ("truncated", "shorter than the 8-byte header length"), ("long header", "a header of"),
        ("not json", "not a JSON object"), ("dtype", "dtype F16"), ("short range", "does not fill"),
        ("gap", "does not follow"), ("trailing", "after the last tensor"), ("negative shape", "does not fill"),
    ])
    func hostile(_ damage: String, _ message: String) throws {
        let good = try Self.formatFixture().encoded()
        let headerEnd = 8 + Self.headerLength(good)
        var header = String(decoding: good[8..<headerEnd], as: UTF8.self)
        var bytes = good
        func replacingHeader(_ text: String) -> [UInt8] {
            var h = Array(text.utf8)
            h += [UInt8](repeating: 0x20, count: (8 - h.count % 8) % 8)
            return withUnsafeBytes(of: UInt64(h.count).littleEndian) { Array($0) } + h + Array(good[headerEnd...])
        }
        switch damage {
        case "truncated": bytes = Array(good.prefix(5))
        case "long header": bytes[0..<8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]
        case "not json": bytes = replacingHeader("[1, 2]")
        case "dtype": bytes = replacingHeader(header.replacingOccurrences(of: "\"dtype\":\"F32\",\"shape\":[2]", with: "\"dtype\":\"F16\",\"shape\":[2]"))
        case "short range": bytes = replacingHeader(header.replacingOccurrences(of: "\"shape\":[2,3]", with: "\"shape\":[2,4]"))
        case "negative shape": bytes = replacingHeader(header.replacingOccurrences(of: "\"shape\":[0,3]", with: "\"shape\":[-1,3]"))
        case "gap":
            header = header.replacingOccurrences(of: "\"shape\":[],\"data_offsets\":[0,8]", with: "\"shape\":[0],\"data_offsets\":[0,0]")
            bytes = replacingHeader(header)
        default: bytes = good + [0]
        }
        #expect {
            try SafeTensors(bytes: bytes, source: "model.safetensors")
        } throws: { error in
            let text = "\(error)"
            return text.contains("model.safetensors") && text.contains(message)
        }
    }

    @Test("an exported run's file is what PyTorch loaded, and PyTorch's outputs equal ours within 1e-5",
          arguments: [("simclr-mlp", false), ("dino-resnet", true)])
    func exportedRun(_ name: String, _ heads: Bool) throws {
        let spec = "npy:" + ["train_images", "train_labels", "test_images", "test_labels"].map { Self.path($0 + ".npy") }
            .joined(separator: ",")
        let data = try DataSources.load(spec, trainSubset: nil, evalTrain: 64, evalTest: 16)
        let backend = TestBackends.reference
        let (objective, _, steps) = try TrainedEncoder.loadObjective(Self.path(name + ".npz"), data: data, on: backend)
        let (file, python) = try TorchModule.export(objective, heads: heads, batchesTracked: Int64(steps), on: backend)
        #expect(file.encoded() == (try Self.bytes(name + ".safetensors")), "the file PyTorch loaded")
        #expect(python.contains(heads ? "nn.ModuleDict" : "model = nn.Sequential(nn.Flatten(), nn.Linear(144, 32, bias=False)"))

        // Float32 here, float64 in PyTorch: features of magnitude ~1 agree to ~1e-6.
        func expectClose(_ ours: FeatureMatrix, _ fixture: String) throws {
            let torch = try Fixtures.doubles("export/" + fixture)
            #expect(torch.shape == [ours.rows, ours.columns])
            let error = zip(ours.values, torch.values).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? .infinity
            #expect(error < 1e-5, "\(fixture): \(error)")
        }
        let features = try Features.extract(objective.encoder, dataset: data.evalTest, indices: Array(0..<16),
                                            normalization: data.normalization, on: backend)
        try expectClose(features, name + "-encoder")
        if heads {
            let head = objective.trainable[1]
            let x = try backend.upload(features.values, shape: [features.rows, features.columns])
            let out = try head.evaluating { try head(x) }
            try expectClose(FeatureMatrix(values: try backend.download(out), rows: out.shape[0], columns: out.shape[1]), name + "-head")
        }
    }

    /// The ConvNet is nn.Sequential of torch.nn layers, in the order of its parameters.
    @Test("the ConvNet encoder exports as an nn.Sequential of its layers")
    func convNet() throws {
        let encoder = try ConvNetEncoder(inputChannels: 1, size: 28, channels: [4, 6], hidden: 10, seed: 0, on: TestBackends.reference)
        let module = try TorchModule(encoder)
        #expect(module.code == "nn.Sequential(nn.Conv2d(1, 4, 3, stride=1, padding=1, bias=False), "
                + "nn.BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True), nn.ReLU(), nn.MaxPool2d(2, stride=2, padding=0), "
                + "nn.Conv2d(4, 6, 3, stride=1, padding=1, bias=False), nn.BatchNorm2d(6, eps=1e-05, momentum=0.1, affine=True), "
                + "nn.ReLU(), nn.MaxPool2d(2, stride=2, padding=0), nn.Flatten(), nn.Linear(294, 10, bias=False), "
                + "nn.BatchNorm1d(10, eps=1e-05, momentum=0.1, affine=True), nn.ReLU())")
        #expect(module.state.map(\.name).prefix(3) == ["0.weight", "1.weight", "1.bias"] && module.state.last?.name == "10.num_batches_tracked")
    }

    @Test("a layer without a PyTorch counterpart is an error naming its type")
    func unknownLayer() throws {
        final class Custom: Layer {
            func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) { fatalError() }
            func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor { fatalError() }
        }
        #expect { try TorchModule(Sequential([Flatten(), Custom()])) } throws: { "\($0)".contains("Custom has no PyTorch module") }
    }
}
