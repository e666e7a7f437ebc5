// The report's PCA projection, SVG document and progress formatting.
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import SSLTrain

@Suite struct ReportTests {
    @Test("PCA finds the axes of largest variance, in order")
    func pcaAxes() throws {
        // Points spread 10 along (1, 1, 0)/√2 and 1 along (0, 0, 1), with tiny noise elsewhere.
        var rng = SeededRandom(seed: 5)
        var x: [Float] = []
        for _ in 0..<200 {
            let a: Float = rng.uniform(1)[0] * 10
            let b: Float = rng.uniform(1)[0]
            let c: Float = rng.uniform(1)[0] * 0.01
            let h: Float = a / Float(2).squareRoot()
            x.append(contentsOf: [h + c, h - c, b])
        }
        let p = try PCA.project(x, rows: 200, cols: 3)
        let first = stride(from: 0, to: 400, by: 2).map { p[$0] }, second = stride(from: 1, to: 400, by: 2).map { p[$0] }
        let variance = { (v: [Double]) -> Double in
            let m = v.reduce(0, +) / Double(v.count)
            return v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)
        }
        #expect(variance(first) > 30 && variance(first) < 40)   // uniform(−10, 10): 100/3
        #expect(variance(second) > 0.28 && variance(second) < 0.39)  // uniform(−1, 1): 1/3
        // The projection on the first axis is ±(a − mean a), a = (x₀ + x₁)/√2.
        let a = (0..<200).map { Double(x[3 * $0] + x[3 * $0 + 1]) / Double(2).squareRoot() }
        let meanA = a.reduce(0, +) / 200
        let sign: Double = first[0] * (a[0] - meanA) >= 0 ? 1 : -1
        #expect(zip(first, a).allSatisfy { abs($0.0 - sign * ($0.1 - meanA)) < 0.05 })
    }

    @Test("the SVG is well-formed XML with the three panels and escaped text")
    func svgDocument() throws {
        var report = ReportSVG(title: "simclr <mlp> & fashion-mnist")
        report.loss = (0..<100).map { ($0, 5 / Double($0 + 1)) }
        report.knnAccuracy = [(0, 0.70), (1, 0.78), (2, 0.81)]
        report.scatter = (0..<30).map { (Double($0), Double($0 % 7), $0 % 10) }
        let svg = report.render()
        #expect(svg.contains("training loss") && svg.contains("kNN accuracy") && svg.contains("PCA"))
        #expect(svg.contains("simclr &lt;mlp&gt; &amp; fashion-mnist"))
        #expect(svg.components(separatedBy: "<circle").count - 1 >= 30 + 3)
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        // Empty series still render.
        #expect(XMLParser(data: Data(ReportSVG(title: "empty").render().utf8)).parse())
    }

    @Test("the legend names the data set's classes; the kNN panel draws its reference levels and reaches down to them")
    func namesAndReferences() throws {
        var report = ReportSVG(title: "t")
        report.knnAccuracy = [(0, 0.81), (1, 0.83)]
        report.knnReferences = [("raw pixels", 0.80), ("random-init encoder", 0.70)]
        report.scatter = (0..<20).map { (Double($0), Double($0 % 3), $0 % 10) }
        report.classNames = try #require(DataSources.classNames("fashion-mnist"))
        let svg = report.render()
        #expect(svg.contains(">T-shirt/top</text>") && svg.contains(">Ankle boot</text>") && !svg.contains(">9</text>"))
        #expect(svg.contains("raw pixels 0.8</text>") && svg.contains("random-init encoder 0.7</text>"))
        #expect(svg.components(separatedBy: "stroke-dasharray").count - 1 == 2)
        #expect(svg.contains(">0.7</text>"), "the axis starts at the lowest reference")
        #expect(XMLParser(data: Data(svg.utf8)).parse())
        #expect(DataSources.classNames("cifar10:/data")?.first == "airplane" && DataSources.classNames("npy:a,b,c,d") == nil)
    }

    @Test("durations print as minutes and seconds, or hours and minutes")
    func durations() {
        #expect(ProgressReporter.duration(75) == "1m15s")
        #expect(ProgressReporter.duration(3 * 3600 + 125) == "3h02m")
    }
}

@Suite struct PublicInitErrorTests {
    @Test("public initialisers and adders refuse bad input with an error, not a crash")
    func errorsNotTraps() throws {
        let b = TestBackends.reference
        #expect(throws: SSLError.self) { try PCA.project([1, 2, 3], rows: 2, cols: 2) }
        #expect(throws: SSLError.self) { try Parameter(name: "w", value: try b.zeros([2]), gradient: try b.zeros([3]), isBiasOrNorm: false) }
        var writer = CheckpointWriter()
        try writer.add("a", values: [1], shape: [1])
        #expect { try writer.add("a", values: [2], shape: [1]) } throws: { "\($0)".contains("added twice") }
        #expect(throws: SSLError.self) { try ImageDataset.quadrants(count: 4, side: 7, seed: 0) }
        let toy = try ImageDataset.quadrants(count: 8, side: 4, seed: 0)
        #expect(toy.labels == [0, 1, 2, 3, 0, 1, 2, 3] && toy.count == 8 && toy.height == 4)
    }
}
