// Placeholders for the `ssl loss` subcommands until their objectives land; each family's
// commands replace their lines here with a file of their own.
import ArgumentParser

struct NTXentLossCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "ntxent") }
struct MoCoLossCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "moco") }
struct MemoryBankLossCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "memorybank") }
struct SwAVLossCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "swav") }
struct KMeansOpCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "kmeans") }
