// `ssl devices`: the OpenCL platforms and devices, and what `auto` picks.
import ArgumentParser
import Foundation
import SSLCore

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List OpenCL platforms and devices, their memory, and which one 'auto' picks.")

    func run() throws {
        let platforms: [OpenCLPlatform]
        do {
            platforms = try OpenCLDevices.platforms()
        } catch SSLError.noOpenCLPlatform {
            print(SSLError.noOpenCLPlatform)
            print("auto picks: reference (CPU, Double accumulation)")
            return
        }
        let chosen = Devices.preferred(platforms.flatMap(\.devices))
        var tuningError: Error? = nil
        for platform in platforms {
            print("platform \(platform.index): \(platform.name)")
            if let reason = platform.noDevices { print("  no devices (\(reason))") }
            for d in platform.devices {
                let marker = d.spec == chosen?.spec ? "  <- auto" : ""
                print("  \(d.spec)  \(d.kind.rawValue)  \(d.name)\(marker)")
                print("      vendor \(d.vendor); \(d.version); driver \(d.driverVersion)"
                      + (d.computeCapability.map { "; compute capability \($0)" } ?? ""))
                print("      memory \(gib(d.globalMemoryBytes)) (largest buffer \(gib(d.maxAllocationBytes))), "
                      + "local \(d.localMemoryBytes / 1024) KiB, \(d.computeUnits) compute units, "
                      + "work-groups up to \(d.maxWorkGroupSize)")
                do {
                    try printGemmParameters(d)
                } catch {
                    print("      gemm: \(error)")
                    tuningError = tuningError ?? error
                }
            }
        }
        print("auto picks: " + (chosen.map { "\($0.spec) \($0.name)" }
                                ?? "reference (CPU, Double accumulation): no OpenCL platform lists a device"))
        if let tuningError { throw tuningError }
    }

    /// Which GEMM runs on `d` (SSL_GEMM, else the device's default), the tuning file that applies
    /// to CLBlast and the parameters its GEMM compiles with.
    private func printGemmParameters(_ d: OpenCLDeviceInfo) throws {
        let selection = try GemmTunings.selection(for: d)
        let variant = try KernelChoices(environment: ProcessInfo.processInfo.environment).gemm ?? .automatic(for: d)
        print("      gemm: " + variant.summary(tuning: selection))
        if variant != .clblast {
            let blas = GemmVariant.automatic(for: d) == .blas ? "" : " (no host BLAS: \(HostBLAS.unavailableReason ?? ""))"
            print("      CLBlast (\(KernelChoices.gemmVariable)=clblast)\(blas): " + (selection.map { "tuned by \($0.summary)" }
                                ?? "its own database (no tuning file for this device and driver)"))
        } else if d.sharesHostMemory, let reason = HostBLAS.unavailableReason {
            print("      (the host BLAS would be faster here: \(reason))")
        }
        for kernel in GemmTuning.parameterNames.keys.sorted() {
            let parameters = try selection?.tuning.kernels[kernel] ?? GemmTunings.parametersInUse(kernel, on: d)
            print("        \(kernel): \(GemmTunings.describe(parameters))")
        }
        print("      paths: " + (selection?.tuning.paths.map { "\($0.summary) (measured)" }
                                  ?? "the defaults (no tuning file has measured them: ssl tune)"))
    }

    private func gib(_ bytes: Int) -> String {
        String(format: "%.2f GiB", Double(bytes) / Double(1 << 30))
    }
}
