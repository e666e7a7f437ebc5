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
        /// Training rows: the encoder (`mlp` when absent).
        let encoder: String?
        let shape: [Int]
        let device: String
        let median_ms: Double
        /// Training rows (`--train`): the batch over the mean step.
        let images_per_s: Double?
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
        self.init(rows: rows)
    }

    init(rows: [Row]) {
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

    /// One column of the comparison: a peer, or several variants of one peer that never ran the
    /// same (op, shape) on one device, such as `numpy` (ops without a backward) and
    /// `numpy-hand-backward` (the losses), which one column shows as `numpy*`.
    struct Column {
        let name: String
        let members: [Peer]
    }

    /// The table's columns, in order of first appearance. Variants join a column when they ran
    /// on its device, share the text before the first "-" with it and no (op, shape) row.
    var columns: [Column] {
        var groups: [[Peer]] = []
        for peer in peers {
            if let index = groups.firstIndex(where: { group in
                group[0].device == peer.device && family(group[0]) == family(peer)
                    && group.allSatisfy { !overlaps($0, peer) }
            }) {
                groups[index].append(peer)
            } else {
                groups.append([peer])
            }
        }
        return groups.map { group in
            // A variant name shared by two devices gets its device, so that the columns differ.
            let ambiguous = peers.filter { $0.variant == group[0].variant }.count > 1
            let base = group.count > 1 ? family(group[0]) + "*" : group[0].variant
            return Column(name: ambiguous ? "\(base)@\(group[0].device)" : base, members: group)
        }
    }

    private func family(_ peer: Peer) -> Substring {
        peer.variant.split(separator: "-", maxSplits: 1).first ?? Substring(peer.variant)
    }

    private func overlaps(_ a: Peer, _ b: Peer) -> Bool {
        let shapesOfA = Set(rows.filter { $0.variant == a.variant && $0.device == a.device }.map { "\($0.op) \($0.shape)" })
        return rows.contains { $0.variant == b.variant && $0.device == b.device && shapesOfA.contains("\($0.op) \($0.shape)") }
    }

    /// The column's median at (op, shape) in milliseconds: its first member's row there.
    func median(_ column: Column, op: Op, shape: [Int]) -> Double? {
        for peer in column.members {
            if let row = rows.first(where: {
                $0.op == op.rawValue && $0.shape == shape && $0.variant == peer.variant && $0.device == peer.device
            }) {
                return row.median_ms
            }
        }
        return nil
    }
}

/// op, shape, our median, then each peer column's median and ours/peer: below 1 means we are faster.
struct ComparisonTable {
    let shapeWidth: Int
    let device: String
    let peers: PeerResults
    let columns: [PeerResults.Column]
    /// Each column's width: its name plus " ms", at least 10.
    let widths: [Int]

    /// - Parameters:
    ///   - workloads: the rows, ours measured.
    ///   - peers: the other libraries' medians of the same workloads.
    ///   - ours: where our medians come from: the device, or a file's devices.
    init(workloads: [Workload], peers: PeerResults, ours: String) {
        shapeWidth = max("shape".count, workloads.map(\.shapeText.count).max() ?? 0)
        device = ours
        self.peers = peers
        columns = peers.columns
        widths = columns.map { max(10, $0.name.count + 5) }
    }

    func begin() {
        print("ours: \(device)")
        for column in columns {
            let devices = Array(Set(column.members.map(\.device))).sorted()
            print("\(column.name): \(column.members.map(\.variant).joined(separator: ", ")) on \(devices.joined(separator: "; "))")
        }
        var header = ["op".padding(8), "shape".padding(shapeWidth), "ours ms".leftPadding(10)]
        for (column, width) in zip(columns, widths) {
            header += ["\(column.name) ms".leftPadding(width), "ours/\(column.name)".leftPadding(width)]
        }
        emit(header)
    }

    /// One row; `ours` is our median in milliseconds, nil where the --ours file lacks the row.
    func write(_ workload: Workload, ours: Double?) {
        var cells = [workload.op.rawValue.padding(8), workload.shapeText.padding(shapeWidth),
                     ours.map { String(format: "%10.3f", $0) } ?? "-".leftPadding(10)]
        for (column, width) in zip(columns, widths) {
            if let ours, let theirs = peers.median(column, op: workload.op, shape: workload.shape), theirs > 0 {
                cells += [String(format: "%.3f", theirs).leftPadding(width),
                          String(format: "%.2f", ours / theirs).leftPadding(width)]
            } else {
                let theirs = peers.median(column, op: workload.op, shape: workload.shape)
                cells += [(theirs.map { String(format: "%.3f", $0) } ?? "-").leftPadding(width), "-".leftPadding(width)]
            }
        }
        emit(cells)
    }

    private func emit(_ cells: [String]) {
        print(cells.joined(separator: "  "))
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
