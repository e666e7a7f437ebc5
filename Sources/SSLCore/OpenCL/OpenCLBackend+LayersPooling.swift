// Max and average pooling on the device (Kernels/layers.cl): forward one work-item per output,
// backward one work-item per input gathering from the windows that cover it (no atomics).

extension OpenCLBackend {
    public func maxPool2d(_ x: Tensor, window: PoolWindow) throws -> MaxPoolResult {
        let op = "maxPool2d"
        let g = try Pool2dShape(input: x.shape, window: window, op: op)
        let y = try empty(g.outputShape), indices = try empty(g.outputShape)
        try launchElements("maxpool_forward", in: .layers, count: y.count, arguments: [
            try arg(x, op), try arg(y, op), try arg(indices, op),
        ] + (try poolArguments(g, count: y.count, op: op)))
        return MaxPoolResult(y: y, indices: indices)
    }

    /// The indices must come from ``maxPool2d(_:window:)``; the kernel trusts them (one that names
    /// no position of its window sends its gradient nowhere), the reference checks them.
    public func maxPool2dBackward(_ dY: Tensor, indices: Tensor, inputShape: [Int], window: PoolWindow) throws -> Tensor {
        let op = "maxPool2dBackward"
        let g = try Shapes.poolBackward(dY.shape, indices: indices.shape, inputShape: inputShape, window: window, op: op)
        let dX = try empty(inputShape)
        try launchElements("maxpool_backward", in: .layers, count: dX.count, arguments: [
            try arg(dY, op), try arg(indices, op), try arg(dX, op),
        ] + (try poolArguments(g, count: dX.count, op: op)))
        return dX
    }

    public func avgPool2d(_ x: Tensor, window: PoolWindow, countIncludePad: Bool) throws -> Tensor {
        let op = "avgPool2d"
        let g = try Pool2dShape(input: x.shape, window: window, op: op)
        let y = try empty(g.outputShape)
        try launchElements("avgpool_forward", in: .layers, count: y.count, arguments: [
            try arg(x, op), try arg(y, op),
        ] + (try poolArguments(g, count: y.count, op: op)) + [.int(countIncludePad ? 1 : 0)])
        return y
    }

    public func avgPool2dBackward(_ dY: Tensor, inputShape: [Int], window: PoolWindow, countIncludePad: Bool) throws -> Tensor {
        let op = "avgPool2dBackward"
        let g = try Shapes.poolBackward(dY.shape, inputShape: inputShape, window: window, op: op)
        let dX = try empty(inputShape)
        try launchElements("avgpool_backward", in: .layers, count: dX.count, arguments: [
            try arg(dY, op), try arg(dX, op),
        ] + (try poolArguments(g, count: dX.count, op: op)) + [.int(countIncludePad ? 1 : 0)])
        return dX
    }

    /// count, H, W, OH, OW, k, s, p: the arguments every pooling kernel takes after its buffers.
    private func poolArguments(_ g: Pool2dShape, count: Int, op: String) throws -> [KernelArgument] {
        _ = try int32(g.n * g.channels * g.height * g.width, op)
        return try [count, g.height, g.width, g.outHeight, g.outWidth, g.window.kernel, g.window.stride,
                    g.window.padding].map { try int32($0, op) }
    }
}
