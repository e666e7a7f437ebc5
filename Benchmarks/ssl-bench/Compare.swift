// `--compare`: reading a peer's JSON lines (Benchmarks/peers/*.py, or this tool's own --json) and
// printing our medians beside theirs, one row per (op, shape), one pair of columns per peer.
import Foundation
import SSLCommandLine
import SSLCore

/// The rows of one or more JSON-lines files in `ssl-bench --json`'s schema.
struct PeerResults {
    /// The fields of a row the comparison reads; the others are ignored.
    struct Row: Decodable {
        let op: String
        let variant: String
        let shape: [Int]
        let device: String
        let median_ms: Double
    }

    /// One column of the table: a variant, and its device where one variant ran on several.
    struct Peer: Hashable {
        let variant: String
        let device: String
    }

    /// In the order of the files and lines.
    let rows: [Row]
    /// Every distinct (variant, device), in order of first appearance.
    let peers: [Peer]

    init(reading paths: [String]) throws {
        var rows: [Row] = []
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else { throw CompareError.unreadable(path) }
            for (index, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
                let text = line.trimmingCharacters(in: .whitespaces)
                if text.isEmpty { continue }
                do {
                    rows.append(try JSONDecoder().decode(Row.self, from: Data(text.utf8)))
                } catch {
                    throw CompareError.badLine(path: path, line: index + 1, detail: "\(error)")
                }
            }
        }
        var peers: [Peer] = []
        for row in rows where !peers.contains(Peer(variant: row.variant, device: row.device)) {
            peers.append(Peer(variant: row.variant, device: row.device))
        }
        self.rows = rows
        self.peers = peers
    }

    /// The distinct (op, shape) rows to run, in order of first appearance; `ops`, when not
    /// empty, keeps only those ops. Rows of ops this tool does not know are reported and skipped.
    func shapes(ops: [Op]) throws -> [(op: Op, shape: [Int])] {
        var seen: [(op: Op, shape: [Int])] = []
        var unknown: Set<String> = []
        for row in rows {
            guard let op = Op(rawValue: row.op) else { unknown.insert(row.op); continue }
            if !ops.isEmpty && !ops.contains(op) { continue }
            guard row.shape.count == Sizes.rank(of: op), row.shape.allSatisfy({ $0 > 0 }) else {
                throw CompareError.badShape(op: row.op, shape: row.shape, pattern: op.sizeOption.pattern)
            }
            if !seen.contains(where: { $0.op == op && $0.shape == row.shape }) { seen.append((op, row.shape)) }
        }
        if !unknown.isEmpty { printError("skipped ops ssl-bench does not run: \(unknown.sorted().joined(separator: ", "))") }
        return seen
    }

    /// The column name of `peer`: its variant, with its device when that variant ran on several.
    func name(of peer: Peer) -> String {
        peers.filter { $0.variant == peer.variant }.count > 1 ? "\(peer.variant)@\(peer.device)" : peer.variant
    }

    /// The peer's median at (op, shape) in milliseconds; the first row when a file repeats one.
    func median(_ peer: Peer, op: Op, shape: [Int]) -> Double? {
        rows.first { $0.op == op.rawValue && $0.shape == shape && $0.variant == peer.variant && $0.device == peer.device }?
            .median_ms
    }
}

/// op, shape, our median, then each peer's median and ours/peer: below 1 means we are faster.
struct ComparisonTable {
    let shapeWidth: Int
    let device: String
    let peers: PeerResults
    /// Each peer's column width: its name plus " ms", at least 10.
    let widths: [Int]

    init(workloads: [Workload], peers: PeerResults, backend: any Backend) {
        shapeWidth = max("shape".count, workloads.map(\.shapeText.count).max() ?? 0)
        device = (backend as? OpenCLBackend)?.device.name ?? backend.kind.rawValue
        self.peers = peers
        widths = peers.peers.map { max(10, peers.name(of: $0).count + 5) }
    }

    func begin() {
        print("ours: \(device)")
        for peer in peers.peers { print("\(peers.name(of: peer)): \(peer.device)") }
        var header = ["op".padding(8), "shape".padding(shapeWidth), "ours ms".leftPadding(10)]
        for (peer, width) in zip(peers.peers, widths) {
            let name = peers.name(of: peer)
            header += ["\(name) ms".leftPadding(width), "ours/\(name)".leftPadding(width)]
        }
        emit(header)
    }

    func write(_ m: Measurement) {
        let ours = m.median * 1e3
        var columns = [m.workload.op.rawValue.padding(8), m.workload.shapeText.padding(shapeWidth),
                       String(format: "%10.3f", ours)]
        for (peer, width) in zip(peers.peers, widths) {
            if let theirs = peers.median(peer, op: m.workload.op, shape: m.workload.shape), theirs > 0 {
                columns += [String(format: "%.3f", theirs).leftPadding(width),
                            String(format: "%.2f", ours / theirs).leftPadding(width)]
            } else {
                columns += ["-".leftPadding(width), "-".leftPadding(width)]
            }
        }
        emit(columns)
    }

    private func emit(_ columns: [String]) {
        print(columns.joined(separator: "  "))
        fflush(stdout)
    }
}

enum CompareError: Error, CustomStringConvertible {
    case unreadable(String)
    case badLine(path: String, line: Int, detail: String)
    case badShape(op: String, shape: [Int], pattern: String)

    var description: String {
        switch self {
        case .unreadable(let path): return "cannot read \(path)"
        case let .badLine(path, line, detail):
            return "\(path):\(line): not a JSON object with op, variant, shape, device and median_ms: \(detail)"
        case let .badShape(op, shape, pattern): return "\(op) shape \(shape) is not \(pattern)"
        }
    }
}
