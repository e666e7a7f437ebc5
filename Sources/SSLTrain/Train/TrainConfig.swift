// Everything a training run is decided by: flags, or the same keys in a JSON file.
import Foundation
import SSLCore

/// A training run's configuration. Every field has the paper's default for the chosen method
/// (``TrainConfig/defaults(for:)``); a JSON file may set any subset of the keys.
///
/// The learning rate follows the linear scaling rule of the papers: `lr = baseLR · batch / 256`,
/// with a linear warm-up and a cosine decay (``LinearWarmupCosine``).
public struct TrainConfig: Codable, Equatable, Sendable {
    public var method: Method
    /// `mlp` (784 → 1024 → 512), `convnet` (two convolution blocks and a dense layer) or
    /// `resnet` (a small CIFAR-style ResNet).
    public var encoder: String = "mlp"
    /// Hidden widths of the MLP encoder (default 1024, 512), block channels and dense width of the
    /// ConvNet (16, 32, 512) or stage widths of the ResNet (32, 64, 128).
    public var encoderWidths: [Int]? = nil
    public var epochs: Int = 100
    /// The global batch (the unit across ranks).
    public var batchSize: Int = 256
    /// The base learning rate for a batch of 256; nil for the method's paper value.
    public var baseLR: Double? = nil
    public var weightDecay: Double? = nil
    public var optimizer: OptimizerKind? = nil
    /// Warm-up epochs (the papers use 10); capped at a tenth of the run for short runs.
    public var warmupEpochs: Double = 10
    public var seed: UInt64 = 0
    /// `fashion-mnist`, `mnist:FOLDER`, `cifar10:FOLDER`, or `npy:IMAGES.npy,LABELS.npy`.
    public var dataset: String = "fashion-mnist"
    /// Train on the first N training images only (quick runs); nil for all.
    public var trainSubset: Int? = nil
    /// Hold out the last N training images as the evaluation split, in place of the test split,
    /// which such a run never reads: for choosing recipes and defaults. nil: the test split.
    public var validation: Int? = nil
    /// Stop after this many optimizer steps (nil: run every epoch).
    public var steps: Int? = nil
    /// Evaluate kNN on held-out data every this many epochs (0: only at the end).
    public var evalEvery: Int = 1
    /// Labelled images used as the kNN bank and test set during training (subsets keep it cheap).
    public var evalTrain: Int = 10_000
    public var evalTest: Int = 2_000

    // Heads and method hyper-parameters (the papers' values; see each Losses/ file).
    /// Projector widths (Barlow Twins/VICReg: 8192-8192-8192; SimCLR: output 128; BYOL: 4096 → 256).
    public var projector: [Int]? = nil
    public var temperature: Double? = nil
    /// Barlow Twins' λ.
    public var lambda: Double = 0.0051
    /// VICReg's coefficients.
    public var simCoeff: Double = 25, stdCoeff: Double = 25, covCoeff: Double = 1
    /// EMA momentum of a teacher/key encoder (BYOL, DINO: 0.996 → 1; MoCo: 0.999 constant).
    public var emaMomentum: Double? = nil
    /// MoCo's queue length / SwAV's and SeLA's prototypes / DeepCluster's k.
    public var queueSize: Int = 4096
    /// The memory bank's NCE negatives per sample (nil: lemniscate's 4096); 0 for the exact
    /// softmax over the whole bank.
    public var negatives: Int? = nil
    public var prototypes: Int? = nil
    /// SwAV's queue of past embeddings (`--queue_length`, 0 = none, the official default; its
    /// small-batch recipe uses 3840), used from epoch `swavQueueStartEpoch` (`--epoch_queue_starts`).
    public var swavQueueLength: Int = 0
    public var swavQueueStartEpoch: Int = 15
    /// Local crops of SwAV and DINO.
    public var localCrops: Int = 6
    /// RandomResizedCrop's area range of the (global) views; nil for the recipe's (0.08, 1).
    public var cropScale: [Double]? = nil
    /// Over several ranks, batch norm uses the statistics of the global batch (SyncBN); false
    /// keeps each rank's own, as a plain DistributedDataParallel model does.
    public var syncBatchNorm: Bool = true
    /// Whether the run evaluates (kNN during training, the final table); false only trains and
    /// checkpoints (tests, equivalence runs, benchmarks).
    public var evaluate: Bool = true

    public init(method: Method) { self.method = method }

    /// The configuration with every default of `method`'s paper.
    public static func defaults(for method: Method) -> TrainConfig { TrainConfig(method: method) }

    /// Reads a JSON file of any subset of the keys; `method` is required.
    public static func load(_ path: String) throws -> TrainConfig { try read(path).config }

    /// Reads a JSON file of any subset of the keys, and says which keys it set (a preset applied
    /// afterwards keeps them: ``TrainPreset/apply(to:keeping:)``).
    public static func read(_ path: String) throws -> (config: TrainConfig, keys: Set<String>) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SSLError.file(path: path, reason: "no such configuration file")
        }
        try checkIntegers(data, path: path)
        do {
            let config = try JSONDecoder().decode(TrainConfig.self, from: data)
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
            return (config, Set(object.keys))
        } catch let UnknownKey.named(key) {
            let closest = keyNames.min { editDistance(key, $0) < editDistance(key, $1) } ?? ""
            throw SSLError.file(path: path, reason: "unknown key '\(key)' (did you mean '\(closest)'?)")
        } catch let DecodingError.keyNotFound(key, _) {
            throw SSLError.file(path: path, reason: "missing key '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw SSLError.file(path: path, reason: "bad value at '\(context.codingPath.map(\.stringValue).joined(separator: "."))': \(context.debugDescription)")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            // A number out of the key's range: 32.5 or 1e20 for an Int, -1 for the seed.
            throw SSLError.file(path: path, reason: "bad value at '\(context.codingPath.map(\.stringValue).joined(separator: "."))': \(context.debugDescription)")
        } catch let DecodingError.dataCorrupted(context) {
            throw SSLError.file(path: path, reason: "not valid JSON: \(context.debugDescription)")
        } catch {
            throw SSLError.file(path: path, reason: "\(error)")
        }
    }

    /// Foundation on Linux reports a number its key's integer type cannot hold (32.5 or 1e20 for
    /// an Int, -1 for the seed) as "not valid JSON", naming nothing: such numbers are found here
    /// first, by key.
    private static func checkIntegers(_ data: Data, path: String) throws {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return }
        for child in Mirror(reflecting: TrainConfig(method: .simclr)).children {
            guard let key = child.label, let given = object[key] else { continue }
            // By the declared type: `nil is UInt64?` holds for a nil of any optional type.
            let type = type(of: child.value)
            let unsigned = type == UInt64.self || type == UInt64?.self
            guard unsigned || type == Int.self || type == Int?.self || type == [Int]?.self else { continue }
            for number in (given as? [Any] ?? [given]).compactMap({ $0 as? NSNumber }) {
                let value = number.doubleValue
                let fits = value == value.rounded() && (unsigned ? value >= 0 && value < 0x1p64 : abs(value) < 0x1p63)
                guard fits else {
                    throw SSLError.file(path: path, reason: "bad value at '\(key)': \(number) is not \(unsigned ? "an integer ≥ 0" : "an integer") in range")
                }
            }
        }
    }

    /// Every key a configuration file may hold: the properties' names.
    public static var keyNames: [String] { Mirror(reflecting: TrainConfig(method: .simclr)).children.compactMap(\.label) }

    private enum UnknownKey: Error { case named(String) }

    private struct AnyKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Decodes with every absent key taking its default; a key that is no property is an error
    /// (a misspelt key would otherwise leave its default in place unseen).
    public init(from decoder: Decoder) throws {
        let names = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue).sorted()
        if let unknown = names.first(where: { CodingKeys(stringValue: $0) == nil }) { throw UnknownKey.named(unknown) }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(method: try c.decode(Method.self, forKey: .method))
        func take<T: Decodable>(_ key: CodingKeys, _ value: inout T) throws {
            if let v = try c.decodeIfPresent(T.self, forKey: key) { value = v }
        }
        func takeOptional<T: Decodable>(_ key: CodingKeys, _ value: inout T?) throws {
            if let v = try c.decodeIfPresent(T.self, forKey: key) { value = v }
        }
        try take(.encoder, &encoder); try takeOptional(.encoderWidths, &encoderWidths); try take(.epochs, &epochs); try take(.batchSize, &batchSize)
        try takeOptional(.baseLR, &baseLR); try takeOptional(.weightDecay, &weightDecay)
        try takeOptional(.optimizer, &optimizer); try take(.warmupEpochs, &warmupEpochs); try take(.seed, &seed)
        try take(.dataset, &dataset); try takeOptional(.trainSubset, &trainSubset); try takeOptional(.validation, &validation); try takeOptional(.steps, &steps)
        try take(.evalEvery, &evalEvery); try take(.evalTrain, &evalTrain); try take(.evalTest, &evalTest)
        try takeOptional(.projector, &projector); try takeOptional(.temperature, &temperature)
        try take(.lambda, &lambda); try take(.simCoeff, &simCoeff); try take(.stdCoeff, &stdCoeff)
        try take(.covCoeff, &covCoeff); try takeOptional(.emaMomentum, &emaMomentum)
        try take(.queueSize, &queueSize); try takeOptional(.negatives, &negatives); try takeOptional(.prototypes, &prototypes); try take(.localCrops, &localCrops)
        try take(.swavQueueLength, &swavQueueLength); try take(.swavQueueStartEpoch, &swavQueueStartEpoch)
        try takeOptional(.cropScale, &cropScale); try take(.syncBatchNorm, &syncBatchNorm); try take(.evaluate, &evaluate)
    }

    /// The configuration as JSON with sorted keys: equal configurations give equal text.
    public func canonicalJSON() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The keys a resumed run may change: how long it runs and how it evaluates. Every other key
    /// decides which images, views, model and updates the steps see.
    public static let resumableKeys: Set<String> = ["epochs", "steps", "evaluate", "evalEvery", "evalTrain", "evalTest"]

    /// The keys outside ``resumableKeys`` whose values differ from `saved`'s (a checkpoint's), in
    /// key order, with both values as JSON text.
    public func trajectoryDifferences(from saved: TrainConfig) throws -> [(key: String, saved: String, given: String)] {
        func fields(_ c: TrainConfig) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: try JSONEncoder().encode(c)) as? [String: Any] ?? [:]
        }
        func text(_ value: Any?) -> String {
            guard let value, !(value is NSNull) else { return "unset" }
            if let string = value as? String { return string }
            let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])
            return data.map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
        }
        let (ours, theirs) = (try fields(self), try fields(saved))
        return Set(ours.keys).union(theirs.keys).subtracting(Self.resumableKeys).sorted().compactMap { key in
            let (given, before) = (text(ours[key]), text(theirs[key]))
            return given == before ? nil : (key, before, given)
        }
    }

    /// Throws a clear error for values no run can use, naming the configuration key (and its
    /// `ssl train` flag where it has one).
    public func validate() throws {
        func bad(_ detail: String) -> SSLError { .invalidArgument(op: "train", detail: detail) }
        guard ["mlp", "convnet", "resnet"].contains(encoder) else { throw bad("encoder (--encoder) must be mlp, convnet or resnet, got \(encoder)") }
        guard epochs >= 1 else { throw bad("epochs (--epochs) must be at least 1, got \(epochs)") }
        guard batchSize >= 2 else { throw bad("batchSize (--batch-size) must be at least 2 (batch statistics), got \(batchSize)") }
        if let lr = baseLR, !(lr > 0 && lr.isFinite) { throw bad("baseLR (--lr) must be positive, got \(lr)") }
        if let steps, steps < 1 { throw bad("steps (--steps) must be at least 1, got \(steps)") }
        guard warmupEpochs.isFinite && warmupEpochs >= 0 else { throw bad("warmupEpochs must be a finite number ≥ 0, got \(warmupEpochs)") }
        if let t = temperature, !(t > 0 && t.isFinite) { throw bad("temperature must be positive, got \(t)") }
        if let n = trainSubset, n < batchSize { throw bad("trainSubset (--train-subset) \(n) is smaller than one batch of \(batchSize)") }
        if let v = validation, v < 1 { throw bad("validation (--validation) must hold out at least 1 image, got \(v)") }
        guard evalTrain >= 1, evalTest >= 1 else { throw bad("evalTrain and evalTest must be positive") }
        if let s = cropScale, s.count != 2 || !(s[0] > 0 && s[0] <= s[1] && s[1] <= 1) {
            throw bad("cropScale must be [min, max] with 0 < min ≤ max ≤ 1, got \(s)")
        }
        if let w = encoderWidths, w.isEmpty || w.contains(where: { $0 < 1 }) { throw bad("encoderWidths must be positive, got \(w)") }
        if let m = negatives, m < 0 { throw bad("negatives must be 0 (full softmax) or positive, got \(m)") }
        guard swavQueueLength >= 0, swavQueueStartEpoch >= 0 else {
            throw bad("swavQueueLength and swavQueueStartEpoch must be ≥ 0, got \(swavQueueLength) and \(swavQueueStartEpoch)")
        }
        if let p = projector, p.isEmpty || p.contains(where: { $0 < 1 }) { throw bad("projector (--projector) widths must be positive, got \(p)") }
    }
}

/// Levenshtein distance, for suggesting the key a misspelt one meant.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.lowercased()), b = Array(b.lowercased())
    var previous = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var current = [i] + [Int](repeating: 0, count: b.count)
        for j in 1...max(b.count, 1) where !b.isEmpty {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return a.isEmpty ? b.count : previous[b.count]
}
