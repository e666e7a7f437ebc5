// Reading sizes from the command line, and the sizes used when none are given.
import ArgumentParser

enum Sizes {
    /// The kNN neighbour count when `--knn` gives three numbers (DINO's and KNNClassifier's k).
    static let defaultKNNNeighbours = 20

    /// The numbers a size of `op` has: [M, N, K], [N, D], [B, K] or [N, M, D, K].
    static func rank(of op: Op) -> Int {
        switch op {
        case .gemm: return 3
        case .knn: return 4
        case .xcorr, .sinkhorn, .barlow, .vicreg, .ntxent: return 2
        }
    }

    /// Parses "AxBx…" into the op's rank of positive integers. For GEMM one number `N` stands for
    /// N in every dimension (`--gemm 1024` is 1024x1024x1024); for kNN, `NxMxD` means k = 20.
    static func parse(_ text: String, for op: Op) throws -> [Int] {
        let rank = rank(of: op)
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        let numbers = parts.compactMap { Int($0) }.filter { $0 > 0 }
        guard numbers.count == parts.count else { throw malformed(text, for: op) }
        if numbers.count == rank { return numbers }
        if op == .gemm, numbers.count == 1 { return Array(repeating: numbers[0], count: rank) }
        if op == .knn, numbers.count == 3 { return numbers + [defaultKNNNeighbours] }
        throw malformed(text, for: op)
    }

    private static func malformed(_ text: String, for op: Op) -> ValidationError {
        let (name, pattern) = op.sizeOption
        return ValidationError("\(name): expected \(pattern), got '\(text)'")
    }

    /// The sizes benchmarked when the command line gives none. `quick` sizes finish in seconds on
    /// a CPU OpenCL device (CI) and are all validated against the reference; the others are the
    /// kernel-performance issue's GPU sizes: the largest would take minutes or hours on PoCL or
    /// the reference backend. Benchmarks/peers/bench_common.py lists the same sizes.
    static func defaults(for op: Op, quick: Bool) -> [[Int]] {
        switch (op, quick) {
        // 257x129x65: odd sizes that fit no tile, so CLBlast's edge handling is exercised.
        case (.gemm, true): return [[128, 128, 128], [257, 129, 65]]
        case (.gemm, false): return [[1024, 1024, 1024], [4096, 4096, 4096], [8192, 8192, 8192]]
        case (.xcorr, true): return [[64, 128]]
        case (.xcorr, false): return [[256, 2048], [2048, 8192]]
        // K = 3000 prototypes is SwAV's ImageNet setting; B is the batch.
        case (.sinkhorn, true): return [[128, 300]]
        case (.sinkhorn, false): return [[256, 3000], [4096, 3000], [16384, 3000]]
        // 2048x8192: Barlow Twins' and VICReg's 8192-wide projector at batch 2048.
        case (.barlow, true), (.vicreg, true): return [[64, 128]]
        case (.barlow, false), (.vicreg, false): return [[256, 2048], [2048, 8192]]
        // SimCLR: 128-wide projections at batch 256 and 4096, and a 2048-wide head at 4096.
        case (.ntxent, true): return [[128, 64]]
        case (.ntxent, false): return [[256, 128], [4096, 128], [4096, 2048]]
        // Train N x test M x D, k: CIFAR-10-sized splits of 512-d features, k 20.
        case (.knn, true): return [[2048, 256, 64, 20]]
        case (.knn, false): return [[50000, 10000, 512, 20]]
        }
    }
}
