// Sinkhorn-Knopp codes (Kernels/sinkhorn.cl) in three versions of one log-domain algorithm:
// two passes over the scores per iteration, one pass per iteration, or one work-group for all.
import Foundation

/// How ``OpenCLBackend`` runs ``Backend/sinkhorn(_:epsilon:iterations:)``; every version computes
/// the same dual updates (Kernels/sinkhorn.cl) and agrees with the others to float32 rounding.
public enum SinkhornVariant: String, CaseIterable, Sendable {
    /// Per iteration a column pass (α) and a row pass (β): 2·iterations + 1 launches and reads of S.
    case twoPass = "two-pass"
    /// Per iteration one pass computing β of a row block and the columns' partial sums for the
    /// next α, and a small fold of the partials: S is read from memory iterations + 1 times.
    case onePass = "one-pass"
    /// One launch of one work-group, α and β in local memory: for small B·K, where launches cost
    /// more than the arithmetic.
    case oneGroup = "one-group"
}

extension OpenCLBackend {
    /// Largest B·K for which the automatic choice is ``SinkhornVariant/oneGroup``: where one
    /// work-group reading S 2·iterations + 1 times costs less than the launches it saves. On a CPU
    /// (PoCL, where a work-group runs on one core) measured: one group wins at 32×100 and loses
    /// from 128×300 on (Benchmarks/README.md), so 2¹³. On a GPU estimated, 7 launches × ~4 µs
    /// against 7 reads at one compute unit's ~100 GB/s, so 2¹⁶; Benchmarks/gpu-measure.sh times
    /// every version at B 32–256 to settle it. A tuning file's measured threshold
    /// (``TunedPaths/sinkhornOneGroupMaxElements``) replaces both.
    public var sinkhornOneGroupMaxElements: Int {
        paths?.sinkhornOneGroupMaxElements ?? (device.kind == .gpu ? 1 << 16 : 1 << 13)
    }

    public func sinkhorn(_ scores: Tensor, epsilon: Float, iterations: Int) throws -> Tensor {
        let (b, k) = try Shapes.sinkhorn(scores.shape, epsilon: epsilon, iterations: iterations)
        let variant = kernels.sinkhorn ?? automaticSinkhornVariant(b: b, k: k)
        return try sinkhorn(scores, epsilon: epsilon, iterations: iterations, variant: variant)
    }

    /// The version chosen when ``KernelChoices/sinkhorn`` is nil: one group for small problems
    /// whose duals fit in local memory (with the largest group the device may give the kernel),
    /// else one pass per iteration (or the version a tuning file measured faster), which run on
    /// any group size.
    public func automaticSinkhornVariant(b: Int, k: Int) -> SinkhornVariant {
        let largestGroup = min(1024, device.maxWorkGroupSize)
        return b * k <= sinkhornOneGroupMaxElements
            && oneGroupLocalBytes(b: b, k: k, local: largestGroup) <= device.localMemoryBytes
            ? .oneGroup : paths?.sinkhornPasses ?? .onePass
    }

    /// ``Backend/sinkhorn(_:epsilon:iterations:)`` by the given version.
    /// - Throws: ``SSLError/invalidArgument(op:detail:)`` for ``SinkhornVariant/oneGroup`` when
    ///   α and β (B + K floats) do not fit in the device's local memory.
    public func sinkhorn(_ scores: Tensor, epsilon: Float, iterations: Int, variant: SinkhornVariant) throws -> Tensor {
        let (b, k) = try Shapes.sinkhorn(scores.shape, epsilon: epsilon, iterations: iterations)
        let p = SinkhornParameters(b: b, k: k, epsilon: epsilon, iterations: iterations)
        switch variant {
        case .twoPass: return try sinkhornTwoPass(scores, p)
        case .onePass: return try sinkhornOnePass(scores, p)
        case .oneGroup: return try sinkhornOneGroup(scores, p)
        }
    }

    private func sinkhornTwoPass(_ scores: Tensor, _ p: SinkhornParameters) throws -> Tensor {
        let op = "sinkhorn"
        let alpha = try empty([p.k]), beta = try zeros([p.b]), codes = try empty([p.b, p.k])
        let s = try arg(scores, op), bCount = try int32(p.b, op), kCount = try int32(p.k, op)
        for _ in 0..<p.iterations {
            try launchElements("sinkhorn_columns", in: .sinkhorn, count: p.k, arguments: [
                s, try arg(beta, op), try arg(alpha, op), bCount, kCount, .float(p.invEps), .float(p.logK),
            ])
            try launchRows("sinkhorn_rows", in: .sinkhorn, rows: p.b, length: p.k, arguments: [
                s, try arg(alpha, op), try arg(beta, op), kCount, .float(p.invEps), .float(p.logB),
            ])
        }
        try launchElements("sinkhorn_codes", in: .sinkhorn, count: p.b * p.k, arguments: [
            s, try arg(alpha, op), try arg(beta, op), try arg(codes, op), bCount, kCount, .float(p.invEps), .float(p.logB),
        ])
        return codes
    }

    private func sinkhornOnePass(_ scores: Tensor, _ p: SinkhornParameters) throws -> Tensor {
        let op = "sinkhorn"
        let pass = try context.kernel("sinkhorn_pass", in: .sinkhorn)
        let local = try groupSize(for: pass, length: p.k)
        // Rows per group: enough groups to fill the device, but at least 8 rows, so that the
        // partials (8 bytes per group and column) stay ≤ 1/4 of the 4 bytes per element read.
        let targetGroups = 4 * max(device.computeUnits, 1)
        let rows = min(p.b, max(8, min(64, (p.b + targetGroups - 1) / targetGroups)))
        let groups = (p.b + rows - 1) / rows
        let team = Self.teamSize(local: local, rows: rows)
        let alpha = try empty([p.k]), codes = try empty([p.b, p.k])
        let partMax = try empty([groups, p.k]), partSum = try empty([groups, p.k])
        let fold = try context.kernel("sinkhorn_alpha_from_parts", in: .sinkhorn)
        // 32 columns (a warp's coalesced reads) × up to 8 lanes of groups, both powers of two for
        // the kernel's tree; narrower where the device's groups are smaller.
        let width = try groupSize(for: fold, length: 32, cap: 32), foldGroup = try maxGroupSize(fold)
        var lanes = 1
        while lanes < 8 && width * lanes * 2 <= foldGroup { lanes *= 2 }
        let s = try arg(scores, op)
        func runPass(mode: Int32) throws {
            try context.launch(pass, name: "sinkhorn_pass", global: [groups * local], local: [local], arguments: [
                s, try arg(alpha, op), try arg(partMax, op), try arg(partSum, op), try arg(codes, op),
                try int32(p.b, op), try int32(p.k, op), try int32(rows, op), try int32(team, op),
                .float(p.invEps), .float(p.logB), .int(mode),
                .local(bytes: rows * 4), .local(bytes: local * 4), .local(bytes: local * 4),
            ])
        }
        func foldAlpha() throws {
            try context.launch(fold, name: "sinkhorn_alpha_from_parts", global: [(p.k + width - 1) / width * width, lanes],
                               local: [width, lanes], arguments: [
                try arg(partMax, op), try arg(partSum, op), try arg(alpha, op), try int32(groups, op),
                try int32(p.k, op), .float(p.logK), .local(bytes: width * lanes * 4), .local(bytes: width * lanes * 4),
            ])
        }
        try runPass(mode: 0)
        try foldAlpha()
        for _ in 1..<p.iterations {
            try runPass(mode: 1)
            try foldAlpha()
        }
        try runPass(mode: 2)
        return codes
    }

    private func sinkhornOneGroup(_ scores: Tensor, _ p: SinkhornParameters) throws -> Tensor {
        let op = "sinkhorn"
        let kernel = try context.kernel("sinkhorn_one_group", in: .sinkhorn)
        let local = try groupSize(for: kernel, length: max(p.b, p.k), cap: 1024)
        let bytes = oneGroupLocalBytes(b: p.b, k: p.k, local: local)
        guard bytes <= device.localMemoryBytes else {
            throw SSLError.invalidArgument(
                op: op, detail: "the one-group Sinkhorn keeps B + K = \(p.b) + \(p.k) duals in local memory: "
                    + "\(bytes) bytes, but \(device.name) has \(device.localMemoryBytes); use another SinkhornVariant")
        }
        let codes = try empty([p.b, p.k])
        try context.launch(kernel, name: "sinkhorn_one_group", global: [local], local: [local], arguments: [
            try arg(scores, op), try arg(codes, op), try int32(p.b, op), try int32(p.k, op),
            try int32(p.iterations, op), try int32(Self.teamSize(local: local, rows: p.b), op),
            .float(p.invEps), .float(p.logK), .float(p.logB),
            .local(bytes: p.k * 4), .local(bytes: p.b * 4), .local(bytes: local * 4), .local(bytes: local * 4),
        ])
        return codes
    }

    /// α, β and the two scratch arrays of the one-group kernel.
    private func oneGroupLocalBytes(b: Int, k: Int, local: Int) -> Int { 4 * (b + k + 2 * local) }

    /// Work-items per row team: all `rows` in one round when each team still has ≥ 32 (a warp),
    /// else teams of 32 in several rounds; a power of two dividing `local`.
    static func teamSize(local: Int, rows: Int) -> Int {
        var team = min(32, local)
        while team * 2 <= local && team * 2 * rows <= local { team *= 2 }
        return team
    }
}

/// The constants every version's kernels take.
private struct SinkhornParameters {
    let b: Int, k: Int, iterations: Int
    let invEps: Float, logK: Float, logB: Float

    init(b: Int, k: Int, epsilon: Float, iterations: Int) {
        (self.b, self.k, self.iterations) = (b, k, iterations)
        invEps = Float(1 / Double(epsilon))
        logK = Float(log(Double(k)))
        logB = Float(log(Double(b)))
    }
}
