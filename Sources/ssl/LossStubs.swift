// Placeholders for the `ssl loss` subcommands until their objectives land; each family's
// commands replace their lines here with a file of their own.
import ArgumentParser

struct BarlowLossCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "barlow") }
struct VICRegLossCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "vicreg") }
struct NTXentLossCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "ntxent") }
struct MoCoLossCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "moco") }
struct MemoryBankLossCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "memorybank") }
struct BYOLLossCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "byol") }
struct SimSiamLossCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "simsiam") }
struct DINOLossCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "dino") }
