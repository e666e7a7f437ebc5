// `--preset`: paper changes nothing; cpu and gpu apply each method's short-run recipe and the
// machine's sizes, and every recipe says why it departs from its paper.
import Testing
@testable import SSLTrain
import SSLCore

@Suite struct TrainPresetTests {
    @Test("paper keeps every default of every method", arguments: Method.allCases)
    func paper(_ method: Method) {
        var c = TrainConfig.defaults(for: method)
        TrainPreset.paper.apply(to: &c)
        #expect(c == TrainConfig.defaults(for: method))
    }

    @Test("cpu applies the method's recipe, the small MLP and the 60 000-image bank; the result validates",
          arguments: Method.allCases)
    func cpu(_ method: Method) throws {
        let recipe = try #require(ShortRunRecipe.table[method])
        #expect(!recipe.reason.isEmpty)
        var c = TrainConfig.defaults(for: method)
        c.seed = 7
        TrainPreset.cpu.apply(to: &c)
        try c.validate()
        #expect(c.optimizer == recipe.optimizer && c.baseLR == recipe.baseLR && c.weightDecay == recipe.weightDecay)
        #expect(c.epochs == recipe.epochs && c.projector == recipe.projector && c.prototypes == recipe.prototypes)
        #expect(c.emaMomentum == recipe.emaMomentum && c.temperature == recipe.temperature && c.negatives == recipe.negatives)
        #expect(c.trainSubset == recipe.trainSubset && c.localCrops == (recipe.localCrops ?? TrainConfig(method: method).localCrops))
        #expect(c.encoder == recipe.encoder && c.encoderWidths == recipe.resolvedEncoderWidths && c.cropScale == recipe.cropScale)
        #expect(c.evalTrain == 60_000 && c.evalTest == 10_000)
        #expect(c.seed == 7 && c.batchSize == 256 && c.evalEvery == max(1, recipe.epochs / 10))
    }

    @Test("gpu: the same recipes, wider, for gpuEpochs epochs on the whole training set")
    func gpu() throws {
        for method in Method.allCases {
            var c = TrainConfig.defaults(for: method)
            TrainPreset.gpu.apply(to: &c)
            try c.validate()
            #expect(c.epochs == TrainPreset.gpuEpochs && c.batchSize == 512 && c.trainSubset == nil)
            let recipe = try #require(ShortRunRecipe.table[method])
            #expect(c.encoder == recipe.encoder && c.encoderWidths == recipe.resolvedEncoderWidths.map { $0.map { 2 * $0 } })
            #expect(c.evalTrain == 60_000 && c.optimizer == recipe.optimizer)
        }
    }

    /// An encoder other than the recipe's (from a file or --encoder) gets that encoder's short-run
    /// widths: the recipe's would be read as another architecture's (an MLP's [512] as one block
    /// of a ConvNet).
    @Test("an encoder kept from the file gets its own widths, not the recipe's", arguments: ["mlp", "convnet", "resnet"])
    func keptEncoderGetsItsWidths(_ encoder: String) throws {
        for method in Method.allCases {
            var c = TrainConfig.defaults(for: method)
            c.encoder = encoder
            TrainPreset.cpu.apply(to: &c, keeping: ["encoder"])
            try c.validate()
            let recipe = try #require(ShortRunRecipe.table[method])
            #expect(c.encoder == encoder)
            #expect(c.encoderWidths == (encoder == recipe.encoder ? recipe.resolvedEncoderWidths : ShortRunRecipe.encoderWidths(for: encoder)))
        }
        #expect(ShortRunRecipe.encoderWidths(for: "convnet") == [16, 32, 512] && ShortRunRecipe.encoderWidths(for: "mlp") == [512])
    }

    /// A configuration file's keys beat the preset: an explicit value, even an invalid one, is
    /// never replaced unseen (the invalid one then fails validation, naming its key).
    @Test("keys a configuration file set are kept by cpu and gpu; the rest follow the preset", arguments: [TrainPreset.cpu, .gpu])
    func fileKeysWin(_ preset: TrainPreset) throws {
        #expect(TrainPreset.decidedKeys.isSubset(of: Set(TrainConfig.keyNames)))
        var explicit = TrainConfig.defaults(for: .swav)
        explicit.optimizer = .lars; explicit.baseLR = 0.3; explicit.weightDecay = 0.5; explicit.projector = [7]
        explicit.prototypes = 11; explicit.temperature = 0.3; explicit.emaMomentum = 0.5; explicit.negatives = 3
        explicit.trainSubset = 999; explicit.localCrops = 4; explicit.cropScale = [0.2, 0.3]; explicit.encoderWidths = [5]
        explicit.encoder = "resnet"
        explicit.epochs = 0; explicit.batchSize = 6; explicit.evalTrain = 17; explicit.evalTest = 19; explicit.evalEvery = 13
        var kept = explicit
        preset.apply(to: &kept, keeping: TrainPreset.decidedKeys)
        #expect(kept == explicit)
        let error = #expect(throws: SSLError.self) { try kept.validate() }
        #expect(error?.description.contains("epochs (--epochs) must be at least 1, got 0") == true, "\(String(describing: error))")

        var some = TrainConfig.defaults(for: .swav), all = some
        some.epochs = 0; some.baseLR = 0.3
        preset.apply(to: &some, keeping: ["epochs", "baseLR"])
        preset.apply(to: &all)
        all.epochs = 0; all.baseLR = 0.3; all.evalEvery = 1
        #expect(some == all)
        #expect(some.optimizer == ShortRunRecipe.table[.swav]?.optimizer && some.projector == ShortRunRecipe.table[.swav]?.projector)
    }
}
