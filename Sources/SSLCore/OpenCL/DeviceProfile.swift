// Device time by command name, from the profiling events of an OpenCL queue (`--profile`).
import COpenCL
import Foundation

/// What a device's queue spent over a profiled span, by command: kernels by their names, GEMMs
/// by the library that ran them, copies, fills and host transfers.
///
/// The queue is in order, so the commands ran one after another: their sum is the device's busy
/// time, and the span's wall time minus that sum is time the device sat idle waiting for the host.
public struct DeviceProfile: Sendable {
    public struct Row: Sendable, Equatable {
        public let name: String
        public var count: Int
        /// Summed device time of this command's events, in seconds.
        public var seconds: Double
        /// Bytes moved between host and device (uploads and downloads only).
        public var bytes: Int
    }

    /// One row per command name, longest total first.
    public let rows: [Row]

    /// The device's busy time: every command's time added up, in seconds.
    public var deviceSeconds: Double { rows.reduce(0) { $0 + $1.seconds } }
    /// Device time of GEMMs (rows whose name starts with "gemm").
    public var gemmSeconds: Double { rows.filter { $0.name.hasPrefix("gemm") }.reduce(0) { $0 + $1.seconds } }
    public var transferBytes: Int { rows.reduce(0) { $0 + $1.bytes } }

    public init(rows: [Row]) {
        self.rows = rows.sorted { ($0.seconds, $1.name) > ($1.seconds, $0.name) }
    }

    /// The table users read: one line per command, sorted by total time, with each share of
    /// the device's busy time; then GEMM, device and host time against `wallSeconds`.
    public func table(wallSeconds: Double, steps: Int? = nil) -> String {
        let total = max(deviceSeconds, 1e-12)
        let width = max(24, (rows.map(\.name.count).max() ?? 0) + 2)
        func pad(_ text: String, _ n: Int) -> String { text.count >= n ? text : text + String(repeating: " ", count: n - text.count) }
        func left(_ text: String, _ n: Int) -> String { text.count >= n ? text : String(repeating: " ", count: n - text.count) + text }
        var lines = [pad("command", width) + left("calls", 8) + left("total ms", 11) + left("mean µs", 10) + left("share", 8) + left("MB moved", 10)]
        for row in rows {
            lines.append(pad(row.name, width) + left("\(row.count)", 8)
                         + left(String(format: "%.1f", row.seconds * 1e3), 11)
                         + left(String(format: "%.1f", row.seconds * 1e6 / Double(max(row.count, 1))), 10)
                         + left(String(format: "%.1f %%", 100 * row.seconds / total), 8)
                         + left(row.bytes > 0 ? String(format: "%.1f", Double(row.bytes) / 1e6) : "", 10))
        }
        let device = deviceSeconds, idle = max(0, wallSeconds - device)
        let perStep = steps.map { String(format: " (%.2f ms per step over %d steps)", 1e3 * wallSeconds / Double(max($0, 1)), $0) } ?? ""
        lines.append(String(format: "wall %.3f s%@; device busy %.3f s (%.0f %%), of which GEMM %.3f s (%.0f %% of device time);",
                            wallSeconds, perStep, device, 100 * device / max(wallSeconds, 1e-12),
                            gemmSeconds, 100 * gemmSeconds / total))
        lines.append(String(format: "device idle, waiting for the host: %.3f s (%.0f %% of wall); host↔device transfers %.1f MB",
                            idle, 100 * idle / max(wallSeconds, 1e-12), Double(transferBytes) / 1e6))
        return lines.joined(separator: "\n")
    }
}

/// Collects named events and sums them into ``DeviceProfile`` rows. Completed events are folded
/// in and released as the list grows, so a long profiled run holds a bounded number of them.
struct DeviceProfiler {
    private var pending: [(event: cl_event, name: String, bytes: Int)] = []
    private var rows: [String: DeviceProfile.Row] = [:]
    private var failure: SSLError? = nil

    mutating func add(_ event: cl_event, name: String, bytes: Int) {
        pending.append((event, name, bytes))
        if pending.count >= 4096 { fold(onlyCompleted: true) }
    }

    mutating func finish() throws -> DeviceProfile {
        fold(onlyCompleted: false)
        if let failure { throw failure }
        return DeviceProfile(rows: Array(rows.values))
    }

    private mutating func fold(onlyCompleted: Bool) {
        var kept: [(event: cl_event, name: String, bytes: Int)] = []
        for item in pending {
            if onlyCompleted && !isComplete(item.event) {
                kept.append(item)
                continue
            }
            do {
                let (start, end) = try eventSpan(item.event)
                rows[item.name, default: .init(name: item.name, count: 0, seconds: 0, bytes: 0)].count += 1
                rows[item.name]!.seconds += Double(end - start) * 1e-9
                rows[item.name]!.bytes += item.bytes
            } catch let error as SSLError {
                failure = failure ?? error
            } catch {}
            clReleaseEvent(item.event)
        }
        pending = kept
    }

    private func isComplete(_ event: cl_event) -> Bool {
        var status: cl_int = 0
        let result = clGetEventInfo(event, cl_event_info(CL_EVENT_COMMAND_EXECUTION_STATUS), MemoryLayout<cl_int>.size, &status, nil)
        return result == CL_SUCCESS && status <= CL_COMPLETE  // CL_COMPLETE is 0; negative: failed, also final
    }
}
