// CLBlast's own search spaces for its GEMM kernels, with the constraints its tuners impose
// (CLBlast 1.5, src/tuning/kernels/xgemm.hpp variations 2 and 12, xgemm_direct.hpp variation 2),
// for `ssl tune` to sample and for tuning files to be checked against.

/// One of CLBlast's tuner search spaces: the values each parameter may take, the constraints a
/// combination must meet to compile, its local memory and its work-group size.
struct GemmSearchSpace: Sendable {
    /// The CLBlast kernel the parameters are for: `Xgemm` or `XgemmDirect`.
    let kernel: String
    /// e.g. "Xgemm GEMMK=0".
    let name: String
    let domains: [(name: String, values: [Int])]
    /// Combinations outside these do not compile or compute wrongly.
    let constraints: [Constraint]
    /// Narrowings of CLBlast's tuner that keep the sampled space small; not required of a file.
    let searchOnly: [Constraint]
    let localFloats: @Sendable ([String: Int]) -> Int
    let workItems: @Sendable ([String: Int]) -> Int
    /// Parameters that must be ≥ 1 (divisors).
    let positive: [String]

    struct Constraint: Sendable {
        let text: String
        let holds: @Sendable ([String: Int]) -> Bool
    }

    /// `x % (y · z) == 0`.
    static func multiple(_ x: String, _ y: String, _ z: String? = nil) -> Constraint {
        Constraint(text: z.map { "\(x) % (\(y)·\($0)) == 0" } ?? "\(x) % \(y) == 0") { p in
            let d = p[y]! * (z.map { p[$0]! } ?? 1)
            return d > 0 && p[x]! % d == 0
        }
    }

    /// `x % (y · z / w) == 0`.
    static func multipleOfRatio(_ x: String, _ y: String, _ z: String, _ w: String) -> Constraint {
        Constraint(text: "\(x) % (\(y)·\(z)/\(w)) == 0") { p in
            let d = p[w]! > 0 ? p[y]! * p[z]! / p[w]! : 0
            return d > 0 && p[x]! % d == 0
        }
    }

    static func equal(_ a: String, _ b: String) -> Constraint { Constraint(text: "\(a) == \(b)") { $0[a] == $0[b] } }

    /// The indirect kernel 0 (xgemm.hpp V=2: "a lot more tuning parameters, sampled randomly").
    static let xgemmKernel0 = GemmSearchSpace(
        kernel: "Xgemm", name: "Xgemm GEMMK=0",
        domains: [("GEMMK", [0]), ("MWG", [16, 32, 64, 128]), ("NWG", [16, 32, 64, 128]), ("KWG", [16, 32]),
                  ("MDIMC", [8, 16, 32]), ("NDIMC", [8, 16, 32]), ("MDIMA", [8, 16, 32]), ("NDIMB", [8, 16, 32]),
                  ("KWI", [2]), ("VWM", [1, 2, 4, 8]), ("VWN", [1, 2, 4, 8]), ("STRM", [0, 1]), ("STRN", [0, 1]),
                  ("SA", [0, 1]), ("SB", [0, 1]), ("KREG", [1])],
        constraints: xgemmCommon + [multipleOfRatio("KWG", "MDIMC", "NDIMC", "MDIMA"),
                                    multipleOfRatio("KWG", "MDIMC", "NDIMC", "NDIMB")],
        searchOnly: [],
        localFloats: { p in p["SA"]! * p["KWG"]! * p["MWG"]! + p["SB"]! * p["KWG"]! * p["NWG"]! },
        workItems: { p in p["MDIMC"]! * p["NDIMC"]! }, positive: xgemmPositive)

    /// The indirect kernel 1, 2D register tiling (xgemm.hpp V=12).
    static let xgemmKernel1 = GemmSearchSpace(
        kernel: "Xgemm", name: "Xgemm GEMMK=1",
        domains: [("GEMMK", [1]), ("MWG", [8, 16, 32, 64, 128]), ("NWG", [8, 16, 32, 64, 128]), ("KWG", [1]),
                  ("MDIMC", [2, 4, 8, 16, 32]), ("NDIMC", [2, 4, 8, 16, 32]), ("MDIMA", [2, 4, 8, 16, 32]),
                  ("NDIMB", [2, 4, 8, 16, 32]), ("KWI", [1]), ("VWM", [1, 2, 4, 8]), ("VWN", [1, 2, 4, 8]),
                  ("STRM", [0]), ("STRN", [0]), ("SA", [0]), ("SB", [0]), ("KREG", [1, 2, 4, 8, 16])],
        // MWG == NWG: CLBlast before 1.6.3 computes kernel 1 wrongly, writing out of bounds,
        // when they differ (CNugteren/CLBlast#543, "Fix GEMMK=1 kernel"); Debian ships 1.5.3.
        constraints: xgemmCommon + [multiple("KREG", "VWN"), equal("MWG", "NWG")],
        searchOnly: [equal("MDIMC", "MDIMA"), equal("NDIMC", "NDIMB")],
        localFloats: { p in p["SA"]! * p["KWG"]! * p["MWG"]! + p["SB"]! * p["KWG"]! * p["NWG"]! },
        workItems: { p in p["MDIMC"]! * p["NDIMC"]! }, positive: xgemmPositive)

    /// The direct kernel (xgemm_direct.hpp V=2).
    static let xgemmDirect = GemmSearchSpace(
        kernel: "XgemmDirect", name: "XgemmDirect",
        domains: [("WGD", [8, 16, 32, 64]), ("MDIMCD", [8, 16, 32]), ("NDIMCD", [8, 16, 32]), ("MDIMAD", [8, 16, 32]),
                  ("NDIMBD", [8, 16, 32]), ("KWID", [2, 8, 16]), ("VWMD", [1, 2, 4, 8]), ("VWND", [1, 2, 4, 8]),
                  ("PADA", [0, 1]), ("PADB", [0, 1])],
        constraints: [multiple("WGD", "KWID"), multiple("WGD", "MDIMCD", "VWMD"), multiple("WGD", "NDIMCD", "VWND"),
                      multiple("WGD", "MDIMAD", "VWMD"), multiple("WGD", "NDIMBD", "VWND"),
                      multipleOfRatio("WGD", "MDIMCD", "NDIMCD", "MDIMAD"), multipleOfRatio("WGD", "MDIMCD", "NDIMCD", "NDIMBD")],
        searchOnly: [],
        localFloats: { p in p["WGD"]! * (p["WGD"]! + p["PADA"]!) + p["WGD"]! * (p["WGD"]! + p["PADB"]!) },
        workItems: { p in p["MDIMCD"]! * p["NDIMCD"]! },
        positive: ["KWID", "MDIMAD", "MDIMCD", "NDIMBD", "NDIMCD", "VWMD", "VWND", "WGD"])

    private static let xgemmCommon: [Constraint] = [
        multiple("KWG", "KWI"), multiple("MWG", "MDIMC", "VWM"), multiple("NWG", "NDIMC", "VWN"),
        multiple("MWG", "MDIMA", "VWM"), multiple("NWG", "NDIMB", "VWN"),
    ]
    private static let xgemmPositive = ["KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB", "NDIMC", "NWG", "VWM", "VWN"]

    /// The first constraint a file's parameters for `kernel` break, or nil (also for kernels without constraints).
    static func brokenConstraint(kernel: String, _ p: [String: Int]) -> String? {
        let space: GemmSearchSpace
        switch kernel {
        case "Xgemm": space = p["GEMMK"] == 1 ? xgemmKernel1 : xgemmKernel0
        case "XgemmDirect": space = xgemmDirect
        default: return nil
        }
        if let zero = space.positive.first(where: { (p[$0] ?? 0) < 1 }) { return "\(zero) ≥ 1" }
        if kernel == "Xgemm", p["GEMMK"]! > 1 { return "GEMMK ∈ {0, 1}" }
        return space.constraints.first { !$0.holds(p) }?.text
    }

    /// Whether a file's parameters for `kernel` fit `device`'s local memory and work-group size
    /// (true for kernels without either).
    static func fits(kernel: String, _ p: [String: Int], on device: OpenCLDeviceInfo) -> Bool {
        let space: GemmSearchSpace
        switch kernel {
        case "Xgemm": space = p["GEMMK"] == 1 ? xgemmKernel1 : xgemmKernel0
        case "XgemmDirect": space = xgemmDirect
        default: return true
        }
        return 4 * space.localFloats(p) <= device.localMemoryBytes && space.workItems(p) <= device.maxWorkGroupSize
    }

    /// Whether `p` is in this space and fits `device` (local memory, work-group size).
    func admits(_ p: [String: Int], on device: OpenCLDeviceInfo) -> Bool {
        (constraints + searchOnly).allSatisfy { $0.holds(p) } && 4 * localFloats(p) <= device.localMemoryBytes
            && workItems(p) <= device.maxWorkGroupSize
    }

    /// A uniformly drawn admissible combination, or nil after many rejections.
    func random(_ generator: inout SplitMix64, on device: OpenCLDeviceInfo) -> [String: Int]? {
        for _ in 0..<100_000 {
            var p: [String: Int] = [:]
            for (name, values) in domains { p[name] = values[generator.below(values.count)] }
            if admits(p, on: device) { return p }
        }
        return nil
    }

    /// The admissible combinations that differ from `p` in one parameter, by one step of its domain.
    func neighbours(of p: [String: Int], on device: OpenCLDeviceInfo) -> [[String: Int]] {
        var result: [[String: Int]] = []
        for (name, values) in domains {
            guard let at = values.firstIndex(of: p[name] ?? -1) else { continue }
            for step in [-1, 1] where values.indices.contains(at + step) {
                var q = p
                q[name] = values[at + step]
                if admits(q, on: device) { result.append(q) }
            }
        }
        return result
    }

    /// Whether `p` has exactly this space's parameter names and values from its domains.
    func contains(_ p: [String: Int]) -> Bool {
        p.count == domains.count && domains.allSatisfy { d in p[d.name].map(d.values.contains) ?? false }
    }
}
