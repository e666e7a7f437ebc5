// Reference max and average pooling in Double: forward per output window, backward by scattering
// each output's gradient back over its window (the device gathers instead; the two must agree).

extension LayerReference {
    /// Max pooling per plane; padding is −∞, ties keep the first maximum in row-major window
    /// order, a NaN wins (the last one, as PyTorch's `val > max || isnan(val)`).
    /// - Returns: y `(N, C, OH, OW)` and the argmax's index `h · W + w` within its plane.
    public static func maxPool2d(_ x: [Double], _ g: Pool2dShape) -> (y: [Double], indices: [Int]) {
        var y = [Double](), indices = [Int]()
        y.reserveCapacity(g.outputShape.reduce(1, *))
        forEachWindow(g) { plane, rows, cols in
            var best = -Double.infinity, at = -1
            for h in rows {
                for w in cols where x[plane + h * g.width + w] > best || x[plane + h * g.width + w].isNaN {
                    best = x[plane + h * g.width + w]
                    at = h * g.width + w
                }
            }
            y.append(best)
            indices.append(at)
        }
        return (y, indices)
    }

    /// `dX[argmax] += dY` per output.
    public static func maxPool2dBackward(_ dY: [Double], indices: [Int], _ g: Pool2dShape) -> [Double] {
        var dX = [Double](repeating: 0, count: g.inputShape.reduce(1, *))
        let planeSize = g.height * g.width, outPlane = g.outHeight * g.outWidth
        for (o, index) in indices.enumerated() { dX[o / outPlane * planeSize + index] += dY[o] }
        return dX
    }

    /// Average pooling; the divisor is k² with `countIncludePad`, else the in-image window size.
    public static func avgPool2d(_ x: [Double], _ g: Pool2dShape, countIncludePad: Bool) -> [Double] {
        var y = [Double]()
        y.reserveCapacity(g.outputShape.reduce(1, *))
        var o = 0
        forEachWindow(g) { plane, rows, cols in
            var total = 0.0
            for h in rows { for w in cols { total += x[plane + h * g.width + w] } }
            let (oy, ox) = (o / g.outWidth % g.outHeight, o % g.outWidth)
            y.append(total / Double(g.divisor(oy, ox, countIncludePad: countIncludePad)))
            o += 1
        }
        return y
    }

    /// `dX[h, w] += dY / divisor` over each output's window.
    public static func avgPool2dBackward(_ dY: [Double], _ g: Pool2dShape, countIncludePad: Bool) -> [Double] {
        var dX = [Double](repeating: 0, count: g.inputShape.reduce(1, *))
        var o = 0
        forEachWindow(g) { plane, rows, cols in
            let (oy, ox) = (o / g.outWidth % g.outHeight, o % g.outWidth)
            let share = dY[o] / Double(g.divisor(oy, ox, countIncludePad: countIncludePad))
            for h in rows { for w in cols { dX[plane + h * g.width + w] += share } }
            o += 1
        }
        return dX
    }

    /// Calls `body(planeOffset, rows, columns)` for every output in row-major order, with the
    /// window's rows and columns clipped to the image.
    private static func forEachWindow(_ g: Pool2dShape, _ body: (Int, Range<Int>, Range<Int>) -> Void) {
        for plane in 0..<(g.n * g.channels) {
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    body(plane * g.height * g.width, g.span(oy, size: g.height), g.span(ox, size: g.width))
                }
            }
        }
    }
}
