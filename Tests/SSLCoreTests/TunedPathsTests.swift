// The measured choice between ops' forms (TunedPaths): PathTuner's measurement, the automatic
// choices following it, its place in tuning files, and the CPU file that serves any CPU.
import Foundation
import Testing
@testable import SSLCore

@Suite struct TunedPathsTests {
    /// At tiny sizes the timings are noise, so the test holds PathTuner to its own rules: every
    /// op and size measured, each choice the fastest of what it recorded (the first listed on a tie).
    @Test("PathTuner times every form and chooses the fastest", .enabled(if: TestBackends.hasOpenCL))
    func tunerChoosesTheFastest() throws {
        let options = PathTuner.Options.tiny
        var lines: [String] = []
        let paths = try PathTuner(backend: untunedOpenCL!, options: options).run { lines.append($0) }
        #expect(paths.problem == nil)
        let (n, d) = options.ntXent
        let order = ["gemm", "fused", "two-pass", "one-pass", "one-group", "unfused"]
        let fastest = { (key: String) -> String? in
            paths.measured[key].map { times in PathTuner.fastest(order.compactMap { form in times[form].map { (form, $0) } }) }
        }
        #expect(Set(paths.measured["ntxent \(2 * n)x\(d)"]?.keys ?? [:].keys) == ["gemm", "fused"])
        #expect(paths.ntXent?.rawValue == fastest("ntxent \(2 * n)x\(d)"))
        for ratio in options.redundancyRatios {
            let rows = Int((ratio * Double(options.redundancyD)).rounded())
            #expect(paths.measured["barlow \(rows)x\(options.redundancyD)"]?.count == 2, "\(paths.measured)")
        }
        for (b, k) in options.sinkhorn {
            #expect(paths.measured["sinkhorn \(b)x\(k)"]?.count == SinkhornVariant.allCases.count, "\(b)x\(k)")
        }
        // One group up to the last size before it first loses (a size it wins is ≤ the threshold).
        let firstLoss = options.sinkhorn.firstIndex { fastest("sinkhorn \($0.b)x\($0.k)") != "one-group" }
        let threshold = firstLoss.map { $0 == 0 ? 0 : options.sinkhorn[$0 - 1].b * options.sinkhorn[$0 - 1].k }
            ?? options.sinkhorn.last!.b * options.sinkhorn.last!.k
        #expect(paths.sinkhornOneGroupMaxElements == threshold)
        let q = options.knn
        #expect(paths.knn?.rawValue == fastest("knn \(q.queries)x\(q.keys)x\(q.d) k \(q.k)"))
        #expect(lines.count == 1 + options.redundancyRatios.count + options.sinkhorn.count + 1, "\(lines)")
    }

    @Test("the automatic choices follow a device's measured paths", .enabled(if: TestBackends.hasOpenCL))
    func pathsSteerTheChoices() throws {
        let context = untunedOpenCL!.context
        var cl = OpenCLBackend(context: context, kernels: KernelChoices(),
                               paths: TunedPaths(ntXent: .fused, gramBelowRatio: 0.25, sinkhornOneGroupMaxElements: 10,
                                                 sinkhornPasses: .twoPass, knn: .fused))
        let z = try cl.upload([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], shape: [3, 5])
        #expect(try cl.ntXent(z, z, temperature: 0.5).algorithm == .fused)
        #expect(try cl.barlowTwins(z, z, lambda: 0.0051, eps: 1e-5).form == .feature, "3 < 0.25 · 5 is false")
        #expect(cl.automaticSinkhornVariant(b: 2, k: 5) == .oneGroup && cl.automaticSinkhornVariant(b: 3, k: 7) == .twoPass)
        #expect(cl.automaticKNNVariant(k: 20) == .fused)
        cl = OpenCLBackend(context: context, kernels: KernelChoices(), paths: TunedPaths(ntXent: .gemm, gramBelowRatio: 4, knn: .unfused))
        #expect(try cl.ntXent(z, z, temperature: 0.5).algorithm == .gemm)
        #expect(try cl.barlowTwins(z, z, lambda: 0.0051, eps: 1e-5).form == .gram, "3 < 4 · 5")
        #expect(cl.automaticSinkhornVariant(b: 256, k: 3000) == .onePass && cl.automaticKNNVariant(k: 20) == .unfused)
        // Environment choices (KernelChoices) still win over measured ones.
        cl = OpenCLBackend(context: context, kernels: KernelChoices(knn: .unfused), paths: TunedPaths(knn: .fused))
        #expect(try cl.similarityTopK(z, z, k: 2, columnOffset: 0, merging: nil).values.shape == [3, 2])
    }

    static let file = """
        {"device": "d", "driver": "1", "platform": "p", "kind": "gpu", "date": "2026-12-07", "command": "test",
         "kernels": {}, "measured": {},
         "paths": {"ntxent": "fused", "gram_below_ratio": 0.5, "sinkhorn_one_group_max_elements": 4096,
                   "sinkhorn_passes": "two-pass", "knn": "unfused", "measured": {"ntxent 512x128": {"gemm": 2.5, "fused": 1.5}}}}
        """

    @Test("paths round-trip through a tuning file; files without them still parse")
    func fileFormat() throws {
        let tuning = try GemmTuning.parse(Array(Self.file.utf8), source: "t.json")
        #expect(tuning.paths == TunedPaths(ntXent: .fused, gramBelowRatio: 0.5, sinkhornOneGroupMaxElements: 4096,
                                           sinkhornPasses: .twoPass, knn: .unfused,
                                           measured: ["ntxent 512x128": ["gemm": 2.5, "fused": 1.5]]))
        #expect(tuning.kind == "gpu")
        #expect(try GemmTuning.parse([UInt8](try tuning.encoded()), source: "again") == tuning)
        let old = """
            {"device": "d", "driver": "1", "platform": "p", "date": "2026-12-01", "command": "test", "kernels": {}, "measured": {}}
            """
        let parsed = try GemmTuning.parse(Array(old.utf8), source: "old.json")
        #expect(parsed.paths == nil && parsed.kind == nil)
    }

    static let badPaths: [(String, String, String)] = [
        (#""ntxent": "fused""#, #""ntxent": "auto""#, "ntxent must be gemm or fused"),
        (#""ntxent": "fused""#, #""ntxent": "faster""#, "'paths.ntxent' has an invalid value"),
        (#""gram_below_ratio": 0.5"#, #""gram_below_ratio": -1"#, "gram_below_ratio must be a finite number ≥ 0"),
        (#""sinkhorn_one_group_max_elements": 4096"#, #""sinkhorn_one_group_max_elements": -5"#, "must be ≥ 0"),
        (#""sinkhorn_passes": "two-pass""#, #""sinkhorn_passes": "one-group""#, "sinkhorn_passes must be one-pass or two-pass"),
        (#""knn": "unfused""#, #""knn": 3"#, "'paths.knn' has the wrong type"),
    ]

    @Test("bad paths are an error naming the file and the entry", arguments: badPaths)
    func badPathsAreRefused(_ c: (String, String, String)) {
        let text = Self.file.replacingOccurrences(of: c.0, with: c.1)
        let error = #expect(throws: SSLError.self) { _ = try GemmTuning.parse(Array(text.utf8), source: "Tuning/x.json") }
        #expect(error?.description.hasPrefix("Tuning/x.json: ") == true && error?.description.contains(c.2) == true,
                "\(String(describing: error))")
    }

    /// A CPU of the test device's platform under another name: PoCL's own on another x86 model.
    private static func device(named name: String, kind: OpenCLDeviceInfo.Kind, like d: OpenCLDeviceInfo,
                               localMemoryBytes: Int? = nil) -> OpenCLDeviceInfo {
        OpenCLDeviceInfo(platformIndex: d.platformIndex, deviceIndex: d.deviceIndex, platformName: d.platformName, name: name,
                         vendor: d.vendor, driverVersion: d.driverVersion, version: d.version, kind: kind,
                         globalMemoryBytes: d.globalMemoryBytes, maxAllocationBytes: d.maxAllocationBytes,
                         localMemoryBytes: localMemoryBytes ?? d.localMemoryBytes, computeUnits: d.computeUnits,
                         maxWorkGroupSize: d.maxWorkGroupSize, extensions: d.extensions, runsNativeKernels: d.runsNativeKernels,
                         computeCapability: d.computeCapability, id: d.id)
    }

    @Test("a CPU without a file of its own takes a CPU file of its platform whose parameters fit; other devices do not",
          .enabled(if: TestBackends.hasOpenCL))
    func anyCPUFindsTheCPUFile() throws {
        let real = TestBackends.openCL!.device
        let embeddedCPU = try GemmTunings.files(environment: [:]).filter { $0.tuning.kind == "cpu" && $0.tuning.platform == real.platformName }
        try #require(!embeddedCPU.isEmpty, "an embedded CPU file for \(real.platformName)")
        let other = Self.device(named: "pthread-znver9-Some Future CPU", kind: .cpu, like: real)
        let found = try #require(try GemmTunings.selection(for: other, environment: [:]))
        #expect(!found.deviceMatches && found.summary.contains("measured on \(found.tuning.device)"))
        #expect(embeddedCPU.contains { $0.source == found.source })
        #expect(try GemmTunings.selection(for: Self.device(named: "pthread-znver9-Some Future CPU", kind: .gpu, like: real),
                                          environment: [:]) == nil)
        // Parameters needing more local memory than the CPU has keep CLBlast's own.
        #expect(try GemmTunings.selection(for: Self.device(named: "tiny", kind: .cpu, like: real, localMemoryBytes: 64),
                                          environment: [:]) == nil)
    }
}
