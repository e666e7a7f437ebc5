// `ssl-bench --train METHOD`: whole optimizer steps (augmentation, forward, loss, backward,
// optimizer, the loss read back) through the library's Trainer, timed by the host clock, in
// images per second; Benchmarks/peers/torch_train_peer.py runs the same steps in PyTorch.
import ArgumentParser
import Foundation
import SSLCommandLine
import SSLCore
import SSLTrain

extension Method: ExpressibleByArgument {}

/// One method's training step at one size: the `--preset cpu` recipe of the method (its heads,
/// optimizer, temperatures, crops) with the batch and widths given.
struct TrainBenchmark {
    let method: Method
    let batch: Int
    /// `mlp` or `convnet` (`--train-encoder`), whatever the recipe's.
    let encoderKind: String
    /// The encoder's widths: the MLP's hidden widths (input 784), or the ConvNet's block
    /// channels and then its dense width.
    let encoder: [Int]
    /// The projector widths as `TrainConfig.projector` takes them; nil for the recipe's.
    let projector: [Int]?

    /// The configuration timed: the cpu recipe, then the sizes given.
    var config: TrainConfig {
        var c = TrainConfig.defaults(for: method)
        TrainPreset.cpu.apply(to: &c)
        c.batchSize = batch
        (c.encoder, c.encoderWidths) = (encoderKind, encoder)
        if let projector { c.projector = projector }
        c.trainSubset = nil
        c.evaluate = false
        c.epochs = 1
        return c
    }

    /// The JSON "shape": batch, then the encoder's widths, then the projector's (the recipe's when
    /// not given); a peer builds the same network from it.
    var shape: [Int] { [batch] + encoder + (config.projector ?? []) }
    var shapeText: String { shape.map(String.init).joined(separator: "x") }
    /// The method, and the encoder where it is not the MLP.
    var label: String { method.rawValue + (encoderKind == "mlp" ? "" : " \(encoderKind)") }

    static let encoderKinds = ["mlp", "convnet"]

    /// The projector widths of `method`'s cpu recipe (empty for a method without one).
    static func recipeProjector(_ method: Method) -> [Int] {
        var c = TrainConfig.defaults(for: method)
        TrainPreset.cpu.apply(to: &c)
        return c.projector ?? []
    }

    /// Parses `B` or `BxW1xW2…`: batch, then encoder widths (default the MLP's 512, 256 or the
    /// ConvNet's 16, 32, 512).
    static func parse(method: Method, encoder kind: String = "mlp", size: String?, projector: String?) throws -> TrainBenchmark {
        guard encoderKinds.contains(kind) else {
            throw ValidationError("--train-encoder: expected \(encoderKinds.joined(separator: " or ")), got '\(kind)'")
        }
        let numbers = try (size ?? "256").split(separator: "x").map { part -> Int in
            guard let n = Int(part), n > 0 else { throw ValidationError("--train-size: '\(size ?? "")' is not BxW1xW2… of positive integers") }
            return n
        }
        let widths = try projector.map { text in
            try text.split(separator: ",").map { part -> Int in
                guard let n = Int(part), n > 0 else { throw ValidationError("--train-projector: '\(text)' is not comma-separated positive widths") }
                return n
            }
        }
        let encoder = numbers.count > 1 ? Array(numbers.dropFirst()) : (kind == "mlp" ? [512, 256] : [16, 32, 512])
        if kind == "convnet", encoder.count < 2 {
            throw ValidationError("--train-size: the convnet encoder's widths are its block channels, then its dense width: at least two")
        }
        let benchmark = TrainBenchmark(method: method, batch: numbers[0], encoderKind: kind, encoder: encoder, projector: widths)
        let recipe = recipeProjector(method)
        if let widths, widths.count != recipe.count {
            throw ValidationError("--train-projector: \(method.rawValue)'s recipe has \(recipe.count) projector widths "
                                  + "(\(recipe.isEmpty ? "none" : recipe.map(String.init).joined(separator: ","))), got \(widths.count)")
        }
        return benchmark
    }
}

/// What timing `steps` optimizer steps after `warmup` untimed ones gave.
struct TrainMeasurement {
    let benchmark: TrainBenchmark
    let device: String
    let warmup: Int, steps: Int
    /// Seconds per step: median and minimum over the timed steps, and their mean (wall / steps).
    let median: Double, min: Double, mean: Double
    /// The device's busy share of the timed wall time (OpenCL profiling events); nil elsewhere.
    /// Its complement is the time the device waited for the host.
    let deviceBusy: Double?

    var imagesPerSecond: Double { Double(benchmark.batch) / mean }
}

/// Runs whole training steps on synthetic 1×28×28 images (uniform noise: the time of a step does
/// not depend on the pixels), the Trainer writing its checkpoint into a temporary folder.
struct TrainRunner {
    let backend: any Backend
    let warmup: Int
    let steps: Int
    /// Print the timed steps' device profile to standard error (OpenCL only).
    var printsProfile = false

    func measure(_ benchmark: TrainBenchmark) throws -> TrainMeasurement {
        // One step more than timed: the Trainer reads each loss after enqueuing the next step, so
        // the last step's read comes without a next one and would time as nothing.
        var config = benchmark.config
        config.steps = warmup + steps + 1
        let images = benchmark.batch * (warmup + steps + 1)
        let data = TrainingData(train: try Self.noise(count: images, seed: 1), evalTrain: try Self.noise(count: 64, seed: 2),
                                evalTest: try Self.noise(count: 64, seed: 3), normalization: .identity(channels: 1))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-bench-train-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }

        let openCL = backend as? OpenCLBackend
        let progress = ProgressReporter(silent: true)
        var marks: [Int: Date] = [:]  // by global step; 0 is the start
        var profile: DeviceProfile? = nil
        var failure: Error? = nil
        // Step `warmup` ends the untimed part; the profile covers exactly the timed steps.
        progress.onStep = { global in
            marks[global] = Date()
            if global == warmup { openCL?.context.beginProfile() }
            if global == warmup + steps, let openCL {
                do { profile = try openCL.context.endProfile() } catch { failure = error }
            }
        }
        let trainer = try Trainer(config: config, data: data, backend: backend, outputFolder: folder, progress: progress)
        marks[0] = Date()
        if warmup == 0 { openCL?.context.beginProfile() }
        try trainer.run()
        if let failure { throw failure }
        let timed = (warmup...(warmup + steps)).map { marks[$0]! }
        let durations = zip(timed.dropFirst(), timed).map { $0.timeIntervalSince($1) }.sorted()
        let wall = timed.last!.timeIntervalSince(timed.first!)
        if printsProfile, let profile {
            printError("profile of \(benchmark.method.rawValue) \(benchmark.shapeText):\n" + profile.table(wallSeconds: wall, steps: steps))
        }
        return TrainMeasurement(benchmark: benchmark, device: backend.name, warmup: warmup, steps: steps,
                                median: durations[durations.count / 2], min: durations.first!, mean: wall / Double(steps),
                                deviceBusy: profile.map { $0.deviceSeconds / max(wall, 1e-12) })
    }

    static func noise(count: Int, seed: UInt64) throws -> ImageDataset {
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        let pixels = (0..<(count * 784)).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24)
        }
        return try ImageDataset(name: "noise", channels: 1, height: 28, width: 28, pixels: .float(pixels),
                                labels: (0..<count).map { $0 % 10 }, classCount: 10)
    }
}

/// method, shape, device, ms per step (median, min), images/s, device busy — or JSON lines with
/// ssl-bench's keys (op "train", variant the method, median_ms per step) plus images_per_s.
struct TrainReport {
    let json: Bool

    func begin() {
        guard !json else { return }
        print(["method".padding(12), "shape".padding(22), "median ms".leftPadding(10), "min ms".leftPadding(10),
               "images/s".leftPadding(10), "device busy".leftPadding(12)].joined(separator: "  "))
    }

    func write(_ m: TrainMeasurement) {
        if json {
            let fields: [(String, JSON)] = [
                ("op", .string("train")), ("variant", .string(m.benchmark.method.rawValue)),
                ("encoder", .string(m.benchmark.encoderKind)), ("shape", .integers(m.benchmark.shape)),
                ("device", .string(m.device)), ("warmup", .number(Double(m.warmup))), ("runs", .number(Double(m.steps))),
                ("timing", .string("wall")), ("median_ms", .number(m.median * 1e3)), ("min_ms", .number(m.min * 1e3)),
                ("images_per_s", .number(m.imagesPerSecond)),
            ]
            print("{" + fields.map { "\(JSON.quote($0.0)):\($0.1.text)" }.joined(separator: ",") + "}")
            return
        }
        print([m.benchmark.label.padding(12), m.benchmark.shapeText.padding(22),
               String(format: "%10.2f", m.median * 1e3), String(format: "%10.2f", m.min * 1e3),
               String(format: "%10.0f", m.imagesPerSecond),
               (m.deviceBusy.map { String(format: "%.0f %%", 100 * $0) } ?? "-").leftPadding(12)].joined(separator: "  "))
    }
}

/// `--train` with `--compare`: our images/s beside each peer's for every (method, shape) they hold.
struct TrainComparison {
    let peers: PeerResults

    func run(_ runner: TrainRunner) throws {
        let rows = peers.rows.filter { $0.op == "train" }
        var seen: [(Method, String, [Int])] = []
        for row in rows {
            guard let method = Method(rawValue: row.variant) else { throw ValidationError("train row of unknown method '\(row.variant)'") }
            guard row.shape.count >= 3, row.shape.allSatisfy({ $0 > 0 }) else {
                throw ValidationError("train row \(row.variant) has shape \(row.shape): expected batch, encoder widths, projector widths")
            }
            let kind = row.encoder ?? "mlp"  // rows from before --train-encoder
            guard TrainBenchmark.encoderKinds.contains(kind) else { throw ValidationError("train row of unknown encoder '\(kind)'") }
            if !seen.contains(where: { $0 == (method, kind, row.shape) }) { seen.append((method, kind, row.shape)) }
        }
        print(["method".padding(12), "shape".padding(22), "ours img/s".leftPadding(11), "peer".padding(30),
               "peer img/s".leftPadding(11), "ours/peer".leftPadding(10)].joined(separator: "  "))
        for (method, kind, shape) in seen {
            let benchmark = try Self.benchmark(method, encoder: kind, shape: shape)
            let ours = try runner.measure(benchmark)
            for row in rows where row.variant == method.rawValue && (row.encoder ?? "mlp") == kind && row.shape == shape {
                let theirs = row.images_per_s ?? Double(benchmark.batch) / (row.median_ms / 1e3)
                print([benchmark.label.padding(12), benchmark.shapeText.padding(22), String(format: "%11.0f", ours.imagesPerSecond),
                       String(row.device.prefix(30)).padding(30), String(format: "%11.0f", theirs),
                       String(format: "%10.2f", ours.imagesPerSecond / theirs)].joined(separator: "  "))
            }
        }
    }

    /// The benchmark whose shape is `shape`: the recipe's projector has as many widths as the
    /// shape has after the encoder's, which the shape cannot tell apart from encoder widths, so
    /// the split is taken from the recipe.
    static func benchmark(_ method: Method, encoder kind: String, shape: [Int]) throws -> TrainBenchmark {
        let recipeProjector = TrainBenchmark.recipeProjector(method)
        let split = shape.count - recipeProjector.count
        guard split >= 2 else { throw ValidationError("train row \(method.rawValue) \(shape): too short for its projector") }
        return TrainBenchmark(method: method, batch: shape[0], encoderKind: kind, encoder: Array(shape[1..<split]),
                              projector: recipeProjector.isEmpty ? nil : Array(shape[split...]))
    }
}
