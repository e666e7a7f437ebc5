// Placeholder until the evaluation commands land.
import ArgumentParser

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Evaluate frozen features.")
}
