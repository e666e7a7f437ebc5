// scripts/kernels-offline.py: every kernel file and build variant compiled for NVIDIA (sm_90) and
// AMD (gfx90a) GPUs, where clang-15 and libclc-15 are installed (scripts/setup.sh installs them).
import Foundation
import Testing
@testable import SSLCore

private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
private let script = root.appendingPathComponent("scripts/kernels-offline.py").path

/// Whether the script's compilers are here: clang-15 and libclc's NVIDIA and AMD built-ins.
private var offlineToolsInstalled: Bool {
    let files = FileManager.default
    let clang = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        .contains { files.isExecutableFile(atPath: "\($0)/clang-15") }
    return clang && files.fileExists(atPath: "/usr/lib/clc/nvptx64--nvidiacl.bc")
        && files.fileExists(atPath: "/usr/lib/clc/amdgcn--amdhsa.bc")
}

@Suite struct KernelsOfflineTests {
    @Test("the script builds the kNN and TF32 programs with the tiles the library launches")
    func tileOptionsMatchTheLibrary() throws {
        let text = try String(contentsOfFile: script, encoding: .utf8)
        for (name, options) in [("KNN_LARGE", KNNTiles.large.options), ("KNN_SMALL", KNNTiles.small.options),
                                ("KNN_PORTABLE", KNNTiles.portable.options), ("TF32_STANDARD", TF32Tiles.standard.options),
                                ("TF32_SMALL", TF32Tiles.small.options), ("TF32_PORTABLE", TF32Tiles.portable.options),
                                ("NTX_NARROW", "-DNTX_BD=\(NTXentFusedTiles.columnChoices.last!)")] {
            #expect(text.contains("\(name) = \"\(options)\""), "\(name) in scripts/kernels-offline.py is not \(options)")
        }
        for program in KernelProgram.allCases where program != .gemmTF32 {
            #expect(text.contains("\"\(program.rawValue)\""), "scripts/kernels-offline.py does not compile \(program.rawValue).cl")
        }
    }

    @Test("every kernel compiles for sm_90 and gfx90a without spills in its GPU form",
          .enabled(if: offlineToolsInstalled), .timeLimit(.minutes(5)))
    func compilesForGPUs() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--targets", "sm_90,gfx90a"]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let table = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(log.suffix(3000))")
        // One row per GPU-form kernel, e.g. the fused NT-Xent backward and the fused kNN.
        #expect(table.contains("ntxent_fused_backward") && table.contains("knn_topk_tiles"), "\(table.prefix(2000))")
    }
}
