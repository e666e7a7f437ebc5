// Reading sizes from the command line, and the sizes used when none are given.
import ArgumentParser

enum Sizes {
    /// Parses "AxBx…" into `rank` positive integers; when `cube` is set, one number `N` stands
    /// for N in every dimension (`--gemm 1024` is 1024x1024x1024).
    static func parse(_ text: String, for op: Op, rank: Int, cube: Bool = false) throws -> [Int] {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        let numbers = parts.compactMap { Int($0) }.filter { $0 > 0 }
        guard numbers.count == parts.count else { throw malformed(text, for: op) }
        if numbers.count == rank { return numbers }
        if cube, numbers.count == 1 { return Array(repeating: numbers[0], count: rank) }
        throw malformed(text, for: op)
    }

    private static func malformed(_ text: String, for op: Op) -> ValidationError {
        let (name, pattern) = op.sizeOption
        return ValidationError("\(name): expected \(pattern), got '\(text)'")
    }

    /// The sizes benchmarked when the command line gives none. `quick` sizes finish in seconds on
    /// a CPU OpenCL device (CI); the others are GPU-sized: the largest would take minutes or hours
    /// on PoCL or the reference backend.
    static func defaults(for op: Op, quick: Bool) -> [[Int]] {
        switch (op, quick) {
        // 257x129x65: odd sizes that fit no tile, so CLBlast's edge handling is exercised.
        case (.gemm, true): return [[128, 128, 128], [257, 129, 65]]
        case (.gemm, false): return [[1024, 1024, 1024], [4096, 4096, 4096]]
        case (.xcorr, true): return [[64, 128]]
        case (.xcorr, false): return [[256, 2048], [2048, 8192]]
        // K = 3000 prototypes is SwAV's ImageNet setting; B is the batch.
        case (.sinkhorn, true): return [[128, 300]]
        case (.sinkhorn, false): return [[256, 3000], [4096, 3000]]
        }
    }
}
