// 2-D convolution on the device as im2col + CLBlast GEMM (Kernels/layers.cl), over chunks of
// images so that the column matrix fits in memory:
//
//   forward, per chunk of B images:  cols (K, B·P) = im2col(x),  Yc (Cout, B·P) = W (Cout, K) · cols,
//                                    y[chunk] = Yc in NCHW                    (K = Cin·kh·kw, P = OH·OW)
//   backward, per chunk:             dYc = dY[chunk] as (Cout, B·P),  dW += dYc · colsᵀ  (GEMM, beta = 1),
//                                    dcols = Wᵀ · dYc,  dX[chunk] = col2im(dcols)  (skipped for the weight
//                                    gradient alone)
//
// The backward recomputes cols instead of keeping them from the forward: one more im2col pass,
// but no K·N·P floats held between the passes.

extension OpenCLBackend {
    /// Floats the column matrix of one chunk may hold: 2²⁶ (256 MiB), or less where the device
    /// allows smaller buffers. Whole batches of small images fit in one chunk.
    var convolutionColumnBudget: Int { min(1 << 26, device.maxAllocationBytes / 4) }

    public func conv2d(_ x: Tensor, weight: Tensor, stride: Int, padding: Int) throws -> Tensor {
        let g = try Conv2dShape(input: x.shape, weight: weight.shape, stride: stride, padding: padding)
        return try conv2dForward(x, weight: weight, g, columnBudget: convolutionColumnBudget)
    }

    public func conv2dBackward(_ x: Tensor, weight: Tensor, dY: Tensor, stride: Int, padding: Int,
                               addingInto dWeight: Tensor) throws -> Tensor {
        let g = try Shapes.conv2dBackward(x.shape, weight: weight.shape, dY: dY.shape, dWeight: dWeight.shape,
                                          stride: stride, padding: padding)
        return try conv2dBackward(x, weight: weight, dY: dY, g, dWeight: dWeight, columnBudget: convolutionColumnBudget)!
    }

    public func conv2dWeightGradient(_ x: Tensor, dY: Tensor, stride: Int, padding: Int, addingInto dWeight: Tensor) throws {
        let g = try Shapes.conv2dBackward(x.shape, weight: dWeight.shape, dY: dY.shape, dWeight: dWeight.shape,
                                          stride: stride, padding: padding, op: "conv2dWeightGradient")
        _ = try conv2dBackward(x, weight: nil, dY: dY, g, dWeight: dWeight, columnBudget: convolutionColumnBudget)
    }

    /// The forward with an explicit chunk budget (in floats), so the tests can force several chunks.
    func conv2dForward(_ x: Tensor, weight: Tensor, _ g: Conv2dShape, columnBudget: Int) throws -> Tensor {
        let op = "conv2d"
        let y = try empty(g.outputShape)
        let w2 = try weight.reshaped([g.outChannels, g.patchSize])
        let positions = g.outHeight * g.outWidth
        for chunk in try imageChunks(g, columnBudget: columnBudget, op: op) {
            let cols = try im2col(x, g, chunk: chunk, op: op)
            let yc = try empty([g.outChannels, chunk.count * positions])
            try gemm(w2, cols, transposeA: false, transposeB: false, alpha: 1, beta: 0, into: yc)
            try launchGrid("conv_scatter", in: .layers, global: [positions, g.outChannels, chunk.count],
                           arguments: [try arg(yc, op), try arg(y, op), try int32(chunk.lowerBound, op)])
        }
        return y
    }

    /// The backward with an explicit chunk budget (in floats): dX, or nil and only dW without `weight`.
    func conv2dBackward(_ x: Tensor, weight: Tensor?, dY: Tensor, _ g: Conv2dShape, dWeight: Tensor,
                        columnBudget: Int) throws -> Tensor? {
        let op = weight == nil ? "conv2dWeightGradient" : "conv2dBackward"
        let dX = try weight.map { _ in try empty(x.shape) }
        let w2 = try weight?.reshaped([g.outChannels, g.patchSize])
        let dW2 = try dWeight.reshaped([g.outChannels, g.patchSize])
        let positions = g.outHeight * g.outWidth
        for chunk in try imageChunks(g, columnBudget: columnBudget, op: op) {
            let cols = try im2col(x, g, chunk: chunk, op: op)
            let dYc = try empty([g.outChannels, chunk.count * positions])
            try launchGrid("conv_gather", in: .layers, global: [positions, chunk.count, g.outChannels],
                           arguments: [try arg(dY, op), try arg(dYc, op), try int32(chunk.lowerBound, op)])
            // dW (Cout, K) += dYc (Cout, B·P) · colsᵀ (B·P, K): the chunks' shares add up.
            try gemm(dYc, cols, transposeA: false, transposeB: true, alpha: 1, beta: 1, into: dW2)
            guard let w2, let dX else { continue }
            let dCols = try empty(cols.shape)
            try gemm(w2, dYc, transposeA: true, transposeB: false, alpha: 1, beta: 0, into: dCols)
            try launchGrid("conv_col2im", in: .layers, options: strideOption(g), global: [g.width, g.height, chunk.count * g.inChannels],
                           arguments: [try arg(dCols, op), try arg(dX, op)] + (try geometry(g, chunk: chunk, op: op)))
        }
        return dX
    }

    /// Consecutive ranges of images whose column matrix (K, B·P) stays within `columnBudget`
    /// floats; at least one image per chunk.
    private func imageChunks(_ g: Conv2dShape, columnBudget: Int, op: String) throws -> [Range<Int>] {
        let perImage = max(g.patchSize, g.outChannels) * g.outHeight * g.outWidth
        let size = max(1, min(g.n, columnBudget / perImage))
        _ = try int32(size * perImage, op)
        _ = try int32(g.n * max(g.inChannels * g.height * g.width, g.outChannels * g.outHeight * g.outWidth), op)
        return stride(from: 0, to: g.n, by: size).map { $0..<min($0 + size, g.n) }
    }

    private func im2col(_ x: Tensor, _ g: Conv2dShape, chunk: Range<Int>, op: String) throws -> Tensor {
        let cols = try empty([g.patchSize, chunk.count * g.outHeight * g.outWidth])
        try launchGrid("conv_im2col", in: .layers, options: strideOption(g), global: [g.outWidth, g.outHeight, g.patchSize * chunk.count],
                       arguments: [try arg(x, op), try arg(cols, op)] + (try geometry(g, chunk: chunk, op: op)))
        return cols
    }

    /// The arguments im2col and col2im share after their two buffers.
    private func geometry(_ g: Conv2dShape, chunk: Range<Int>, op: String) throws -> [KernelArgument] {
        try [chunk.lowerBound, chunk.count, g.inChannels, g.height, g.width, g.kernelHeight, g.kernelWidth,
             g.padding, g.outHeight, g.outWidth].map { try int32($0, op) }
    }

    /// im2col and col2im are built per stride (a program per value; networks use one or two).
    private func strideOption(_ g: Conv2dShape) -> String { "-DCONV_STRIDE=\(g.stride)" }
}
