// Reference 2-D convolution in Double: the direct sum, and its backward by the chain rule on the
// same sum (no im2col, so the device's im2col/GEMM/col2im path is checked against an independent
// formulation).

extension LayerReference {
    /// `y[n, o, i, j] = Σ_{c,p,q} w[o, c, p, q] · x[n, c, i·s − pad + p, j·s − pad + q]`, zero padding.
    /// - Parameters: x `(N, Cin, H, W)`, weight `(Cout, Cin, kh, kw)`.
    /// - Returns: `(N, Cout, OH, OW)`.
    public static func conv2d(_ x: [Double], weight: [Double], _ g: Conv2dShape) -> [Double] {
        var y = [Double](repeating: 0, count: g.outputShape.reduce(1, *))
        forEachTap(g) { xi, wi, yi in y[yi] += weight[wi] * x[xi] }
        return y
    }

    /// The gradients of ``conv2d(_:weight:_:)``: each tap `y[yi] += w[wi] · x[xi]` sends
    /// `dY[yi] · w[wi]` to `dX[xi]` and `dY[yi] · x[xi]` to `dW[wi]`.
    /// - Returns: dX `(N, Cin, H, W)`, dWeight `(Cout, Cin, kh, kw)`.
    public static func conv2dBackward(_ x: [Double], weight: [Double], dY: [Double], _ g: Conv2dShape)
        -> (dX: [Double], dWeight: [Double]) {
        var dX = [Double](repeating: 0, count: x.count), dW = [Double](repeating: 0, count: weight.count)
        forEachTap(g) { xi, wi, yi in
            dX[xi] += dY[yi] * weight[wi]
            dW[wi] += dY[yi] * x[xi]
        }
        return (dX, dW)
    }

    /// dWeight `(Cout, Cin, kh, kw)` of ``conv2dBackward(_:weight:dY:_:)`` alone.
    public static func conv2dWeightGradient(_ x: [Double], dY: [Double], _ g: Conv2dShape) -> [Double] {
        var dW = [Double](repeating: 0, count: g.outChannels * g.patchSize)
        forEachTap(g) { xi, wi, yi in dW[wi] += dY[yi] * x[xi] }
        return dW
    }

    /// Calls `body(xIndex, wIndex, yIndex)` for every product of the convolution sum whose input
    /// lies inside the image (padded positions contribute zero).
    private static func forEachTap(_ g: Conv2dShape, _ body: (Int, Int, Int) -> Void) {
        for b in 0..<g.n {
            for o in 0..<g.outChannels {
                for i in 0..<g.outHeight {
                    for j in 0..<g.outWidth {
                        let yi = ((b * g.outChannels + o) * g.outHeight + i) * g.outWidth + j
                        for c in 0..<g.inChannels {
                            for p in 0..<g.kernelHeight {
                                let h = i * g.stride - g.padding + p
                                guard h >= 0, h < g.height else { continue }
                                for q in 0..<g.kernelWidth {
                                    let w = j * g.stride - g.padding + q
                                    guard w >= 0, w < g.width else { continue }
                                    body(((b * g.inChannels + c) * g.height + h) * g.width + w,
                                         ((o * g.inChannels + c) * g.kernelHeight + p) * g.kernelWidth + q, yi)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
