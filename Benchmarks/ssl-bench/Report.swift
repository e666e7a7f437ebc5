// Writing measurements: an aligned table for people, or JSON lines for scripts. Rows are written
// as each workload finishes, so a long run shows progress and a crash keeps what was measured.
import Foundation
import SSLCore

protocol Report {
    func begin()
    func write(_ measurement: Measurement)
}

/// op, variant, shape, device, median ms, min ms, GFLOP/s, GB/s, max rel err.
struct TableReport: Report {
    /// Widths known before the first row, since every workload is planned up front.
    let variantWidth: Int
    let shapeWidth: Int
    let device: String

    init(workloads: [Workload], backend: any Backend) {
        variantWidth = backend.kind == .reference ? "reference".count
            : max("variant".count, workloads.map(\.variant.count).max() ?? 0)
        shapeWidth = max("shape".count, workloads.map(\.shapeText.count).max() ?? 0)
        device = (backend as? OpenCLBackend)?.device.name ?? backend.kind.rawValue
    }

    func begin() {
        emit(["op", "variant".padding(variantWidth), "shape".padding(shapeWidth), "device".padding(device.count),
              "median ms".leftPadding(10), "min ms".leftPadding(10), "GFLOP/s".leftPadding(9),
              "GB/s".leftPadding(9), "max rel err".leftPadding(11)])
    }

    func write(_ m: Measurement) {
        let error: String
        switch m.check {
        case .maxRelativeError(let e): error = String(format: "%.2e", e)
        case .atSmallerSize(let e, _): error = String(format: "%.2e*", e)  // * : checked at a smaller size
        case .isReference: error = "-"
        }
        emit([m.workload.op.rawValue, m.variant.padding(variantWidth), m.workload.shapeText.padding(shapeWidth), device,
              String(format: "%10.3f", m.median * 1e3), String(format: "%10.3f", m.min * 1e3),
              String(format: "%9.2f", m.gflops), String(format: "%9.2f", m.gbps), error.leftPadding(11)])
    }

    private func emit(_ columns: [String]) {
        // "sinkhorn" is the longest op name.
        print(([columns[0].padding(8)] + columns.dropFirst()).joined(separator: "  "))
        fflush(stdout)
    }
}

/// One JSON object per line, keys in a fixed order.
struct JSONLinesReport: Report {
    func begin() {}

    func write(_ m: Measurement) {
        // The peers' schema (Benchmarks/peers/bench_common.py): the error, wherever it was measured.
        let error: JSON = m.check.error.map { .number($0) } ?? .null
        let fields: [(String, JSON)] = [
            ("op", .string(m.workload.op.rawValue)),
            ("variant", .string(m.variant)),
            ("shape", .integers(m.workload.shape)),
            ("device", .string(m.device)),
            ("warmup", .integer(m.warmup)),
            ("runs", .integer(m.runs)),
            ("timing", .string(m.timing.rawValue)),
            ("median_ms", .number(m.median * 1e3)),
            ("min_ms", .number(m.min * 1e3)),
            ("gflops", .number(m.gflops)),
            ("gbps", .number(m.gbps)),
            ("max_rel_err", error),
        ]
        print("{" + fields.map { "\(JSON.quote($0.0)):\($0.1.text)" }.joined(separator: ",") + "}")
        fflush(stdout)
    }
}

/// The few JSON values the report needs; written by hand to keep the keys in order.
enum JSON {
    case string(String)
    case number(Double)
    case integer(Int)
    case integers([Int])
    case bool(Bool)
    case null

    var text: String {
        switch self {
        case .string(let s): return JSON.quote(s)
        // Swift's shortest round-trip form ("1.5", "1e-07") is valid JSON; Inf and NaN are not.
        case .number(let x): return x.isFinite ? "\(x)" : "null"
        case .integer(let n): return "\(n)"
        case .integers(let values): return "[" + values.map(String.init).joined(separator: ",") + "]"
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    func leftPadding(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
