// `ssl`: self-supervised learning on OpenCL devices, from the command line.
import ArgumentParser
import SSLCommandLine
import SSLCore

@main
struct SSLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ssl",
        abstract: "Self-supervised learning on OpenCL GPUs, with a CPU reference backend.",
        discussion: """
            Every command that computes takes --device (\(DeviceSpec.help)); without it the \
            \(Devices.environmentVariable) environment variable is read, then 'auto': the first GPU, \
            else any OpenCL device, else the reference backend.
            """,
        subcommands: [DevicesCommand.self, TrainCommand.self, EmbedCommand.self, ExportCommand.self, EvalCommand.self, OpCommand.self, LossCommand.self,
                      TuneCommand.self]
    )

    /// `--lr -1` reaches the option's own check instead of "Missing value" (NegativeValues).
    static func main() {
        main(NegativeValues.joined(Array(CommandLine.arguments.dropFirst())))
    }
}
