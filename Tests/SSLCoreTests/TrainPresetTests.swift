// `--preset`: paper changes nothing; cpu and gpu apply each method's short-run recipe and the
// machine's sizes, and every recipe says why it departs from its paper.
import Testing
@testable import SSLTrain

@Suite struct TrainPresetTests {
    @Test("paper keeps every default of every method", arguments: Method.allCases)
    func paper(_ method: Method) {
        var c = TrainConfig.defaults(for: method)
        TrainPreset.paper.apply(to: &c)
        #expect(c == TrainConfig.defaults(for: method))
    }

    @Test("cpu applies the method's recipe, the small MLP and the 10 000-image evaluation; the result validates",
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
        #expect(c.encoderWidths == [512, 256] && c.cropScale == recipe.cropScale && c.evalTrain == 10_000 && c.evalTest == 10_000)
        #expect(c.seed == 7 && c.batchSize == 256 && c.evalEvery == max(1, recipe.epochs / 10))
    }

    @Test("gpu: the same recipes, wider, for gpuEpochs epochs on the whole training set")
    func gpu() throws {
        for method in Method.allCases {
            var c = TrainConfig.defaults(for: method)
            TrainPreset.gpu.apply(to: &c)
            try c.validate()
            #expect(c.epochs == TrainPreset.gpuEpochs && c.batchSize == 512 && c.trainSubset == nil)
            #expect(c.encoderWidths == [1024, 512] && c.evalTrain == 60_000 && c.optimizer == ShortRunRecipe.table[method]?.optimizer)
        }
    }
}
