// Sizes that come from users (layer widths, queue lengths, matrix shapes) checked against the
// host's memory before anything is allocated: Swift ends the process ("failed to allocate")
// where OpenCL returns an error.
import Foundation

public enum HostMemory {
    /// Half of the machine's memory: one array beyond it cannot be meant.
    public static var limitBytes: Int { Int(clamping: ProcessInfo.processInfo.physicalMemory / 2) }

    /// Throws ``SSLError/tooLargeForHost(what:bytes:limit:)`` when `what`, the product of
    /// `dimensions` values of `bytesPerValue` bytes each, exceeds ``limitBytes`` (or overflows).
    public static func require(_ dimensions: [Int], bytesPerValue: Int = 4, what: @autoclosure () -> String) throws {
        var bytes = bytesPerValue
        for d in dimensions {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: max(d, 0))
            bytes = overflow ? .max : product
        }
        guard bytes <= limitBytes else { throw SSLError.tooLargeForHost(what: what(), bytes: bytes, limit: limitBytes) }
    }
}
