// The training report as one SVG: loss curve, kNN accuracy over epochs, and a 2-D PCA scatter
// of test embeddings coloured by class. Plain SVG, so any browser opens it without scripts.
import Foundation

public struct ReportSVG {
    /// (step, loss) pairs.
    public var loss: [(step: Int, value: Double)] = []
    /// (epoch, accuracy in [0, 1]) pairs.
    public var knnAccuracy: [(epoch: Int, value: Double)] = []
    /// Levels drawn across the kNN panel as dashed lines (e.g. raw pixels and the random-init
    /// encoder), so the curve reads against them.
    public var knnReferences: [(name: String, value: Double)] = []
    /// 2-D points with their class labels.
    public var scatter: [(x: Double, y: Double, label: Int)] = []
    /// The legend's name of each class label (the data set's), else the label itself.
    public var classNames: [String] = []
    /// The trained network layer by layer (pixels, hidden layers, output, head): kNN and probe accuracy.
    public var layers: [(name: String, knn: Double, probe: Double?)] = []
    public var title: String

    public init(title: String) { self.title = title }

    private static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
    private static let panel = (width: 360.0, height: 300.0, margin: 48.0)

    /// The document.
    public func render() -> String {
        let (w, h) = (Self.panel.width, Self.panel.height)
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(4 * w))" height="\(Int(h + 40))" \
            font-family="sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="10" y="20" font-size="14" font-weight="bold">\(escape(title))</text>

            """
        svg += linePanel(at: 0, title: "training loss", xLabel: "step",
                         points: loss.map { (Double($0.step), $0.value) })
        svg += linePanel(at: w, title: "kNN accuracy (k = 20)", xLabel: "epoch",
                         points: knnAccuracy.map { (Double($0.epoch), $0.value) }, references: knnReferences)
        svg += scatterPanel(at: 2 * w)
        svg += layerPanel(at: 3 * w)
        return svg + "</svg>\n"
    }

    private func frame(at x0: Double, title: String) -> String {
        let (w, h, m) = Self.panel
        return """
            <g transform="translate(\(x0), 30)">
            <text x="\(w / 2)" y="12" text-anchor="middle" font-weight="bold">\(escape(title))</text>
            <rect x="\(m)" y="20" width="\(w - m - 10)" height="\(h - m - 20)" fill="none" stroke="#888"/>

            """
    }

    /// Maps data ranges onto the plot area of a panel.
    private struct Scale {
        let lo: (x: Double, y: Double), hi: (x: Double, y: Double)
        func x(_ v: Double) -> Double {
            let m = ReportSVG.panel.margin
            return m + (v - lo.x) / max(hi.x - lo.x, 1e-12) * (ReportSVG.panel.width - m - 10)
        }
        func y(_ v: Double) -> Double {
            let (h, m) = (ReportSVG.panel.height, ReportSVG.panel.margin)
            return h - m - (v - lo.y) / max(hi.y - lo.y, 1e-12) * (h - m - 20)
        }
        init(_ points: [(Double, Double)]) {
            let xs = points.map(\.0), ys = points.map(\.1)
            lo = (xs.min() ?? 0, ys.min() ?? 0)
            hi = (max(xs.max() ?? 1, (xs.min() ?? 0) + 1), max(ys.max() ?? 1, (ys.min() ?? 0) + 1e-6))
        }
    }

    private func axisLabels(_ s: Scale, xLabel: String) -> String {
        let (w, h, m) = Self.panel
        return """
            <text x="\(m - 4)" y="\(s.y(s.hi.y) + 4)" text-anchor="end">\(format(s.hi.y))</text>
            <text x="\(m - 4)" y="\(s.y(s.lo.y))" text-anchor="end">\(format(s.lo.y))</text>
            <text x="\(m)" y="\(h - m + 14)" text-anchor="middle">\(format(s.lo.x))</text>
            <text x="\(w - 10)" y="\(h - m + 14)" text-anchor="middle">\(format(s.hi.x))</text>
            <text x="\((w + m) / 2)" y="\(h - m + 28)" text-anchor="middle">\(escape(xLabel))</text>

            """
    }

    private func linePanel(at x0: Double, title: String, xLabel: String, points: [(Double, Double)],
                           references: [(name: String, value: Double)] = []) -> String {
        var g = frame(at: x0, title: title)
        guard !points.isEmpty else {
            return g + "<text x=\"\(Self.panel.width / 2)\" y=\"\(Self.panel.height / 2)\" text-anchor=\"middle\">no data</text>\n</g>\n"
        }
        // The references widen the value range, so the axis starts low enough to compare with them.
        let s = Scale(points + references.map { (points[0].0, $0.value) })
        for (i, r) in references.enumerated() {
            let (y, colour) = (rounded(s.y(r.value)), ["#d62728", "#7f7f7f", "#2ca02c"][i % 3])
            g += "<line x1=\"\(rounded(s.x(s.lo.x)))\" x2=\"\(rounded(s.x(s.hi.x)))\" y1=\"\(y)\" y2=\"\(y)\" stroke=\"\(colour)\" "
                + "stroke-dasharray=\"4 3\"/>\n"
            g += "<text x=\"\(rounded(s.x(s.hi.x) - 2))\" y=\"\(rounded(s.y(r.value) - 3))\" text-anchor=\"end\" fill=\"\(colour)\">"
                + "\(escape(r.name)) \(format(r.value))</text>\n"
        }
        let path = points.map { "\(rounded(s.x($0.0))),\(rounded(s.y($0.1)))" }.joined(separator: " ")
        g += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"\(path)\"/>\n"
        if points.count <= 50 {
            for p in points { g += "<circle cx=\"\(rounded(s.x(p.0)))\" cy=\"\(rounded(s.y(p.1)))\" r=\"2.5\" fill=\"#1f77b4\"/>\n" }
        }
        return g + axisLabels(s, xLabel: xLabel) + "</g>\n"
    }

    /// kNN (solid) and linear probe (dashed) accuracy at each representation, named below the axis.
    private func layerPanel(at x0: Double) -> String {
        var g = frame(at: x0, title: "by layer: kNN (solid), linear probe (dashed)")
        guard !layers.isEmpty else { return g + "</g>\n" }
        let knn = layers.enumerated().map { (Double($0.offset), $0.element.knn) }
        let probe = layers.enumerated().compactMap { k, l in l.probe.map { (Double(k), $0) } }
        let s = Scale(knn + probe)
        for (series, dash) in [(knn, ""), (probe, " stroke-dasharray=\"5 3\"")] where !series.isEmpty {
            let path = series.map { "\(rounded(s.x($0.0))),\(rounded(s.y($0.1)))" }.joined(separator: " ")
            g += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\"\(dash) points=\"\(path)\"/>\n"
            for p in series { g += "<circle cx=\"\(rounded(s.x(p.0)))\" cy=\"\(rounded(s.y(p.1)))\" r=\"2.5\" fill=\"#1f77b4\"/>\n" }
        }
        let (h, m) = (Self.panel.height, Self.panel.margin)
        for (k, layer) in layers.enumerated() {
            let x = rounded(s.x(Double(k)))
            g += "<text x=\"\(x)\" y=\"\(h - m + 12)\" text-anchor=\"end\" font-size=\"9\" "
                + "transform=\"rotate(-25 \(x) \(h - m + 12))\">\(escape(layer.name))</text>\n"
        }
        return g + """
            <text x="\(m - 4)" y="\(s.y(s.hi.y) + 4)" text-anchor="end">\(format(s.hi.y))</text>
            <text x="\(m - 4)" y="\(s.y(s.lo.y))" text-anchor="end">\(format(s.lo.y))</text>
            </g>

            """
    }

    private func scatterPanel(at x0: Double) -> String {
        var g = frame(at: x0, title: "test embeddings, PCA")
        guard !scatter.isEmpty else { return g + "</g>\n" }
        let s = Scale(scatter.map { ($0.x, $0.y) })
        for p in scatter {
            let colour = Self.palette[((p.label % Self.palette.count) + Self.palette.count) % Self.palette.count]
            g += "<circle cx=\"\(rounded(s.x(p.x)))\" cy=\"\(rounded(s.y(p.y)))\" r=\"1.8\" fill=\"\(colour)\" fill-opacity=\"0.7\"/>\n"
        }
        for (i, label) in Set(scatter.map(\.label)).sorted().prefix(10).enumerated() {
            let colour = Self.palette[((label % Self.palette.count) + Self.palette.count) % Self.palette.count]
            let name = classNames.indices.contains(label) ? classNames[label] : "\(label)"
            g += "<circle cx=\"\(Self.panel.width - 30)\" cy=\"\(30 + 12 * i)\" r=\"4\" fill=\"\(colour)\"/>"
            g += "<text x=\"\(Self.panel.width - 36)\" y=\"\(34 + 12 * i)\" text-anchor=\"end\">\(escape(name))</text>\n"
        }
        return g + "</g>\n"
    }

    private func rounded(_ v: Double) -> String { String(format: "%.1f", v) }

    private func format(_ v: Double) -> String {
        abs(v) >= 1000 || (abs(v) < 0.01 && v != 0) ? String(format: "%.2e", v) : String(format: "%.3g", v)
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
