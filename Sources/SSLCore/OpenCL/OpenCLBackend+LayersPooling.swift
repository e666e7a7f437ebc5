// Max and average pooling on the device (Kernels/layers.cl): forward one work-item per output,
// backward one work-item per input gathering from the windows that cover it (no atomics), or,
// where windows do not overlap, one per output storing into its argmax; over 3-D ranges
// (column, row, plane).

extension OpenCLBackend {
    public func maxPool2d(_ x: Tensor, window: PoolWindow) throws -> MaxPoolResult {
        let op = "maxPool2d"
        let g = try Pool2dShape(input: x.shape, window: window, op: op)
        let y = try empty(g.outputShape), indices = try empty(g.outputShape)
        try launchGrid("maxpool_forward", in: .layers, global: outputRange(g), arguments: [
            try arg(x, op), try arg(y, op), try arg(indices, op), try int32(g.height, op), try int32(g.width, op),
        ] + (try windowArguments(g, op: op)))
        return MaxPoolResult(y: y, indices: indices)
    }

    /// The indices must come from ``maxPool2d(_:window:)``; the kernel trusts them (one that names
    /// no position of its window sends its gradient nowhere), the reference checks them.
    public func maxPool2dBackward(_ dY: Tensor, indices: Tensor, inputShape: [Int], window: PoolWindow) throws -> Tensor {
        let op = "maxPool2dBackward"
        let g = try Shapes.poolBackward(dY.shape, indices: indices.shape, inputShape: inputShape, window: window, op: op)
        let dX = try empty(inputShape)
        if window.stride >= window.kernel {
            try fill(dX, with: 0)
            try launchGrid("maxpool_backward_disjoint", in: .layers, global: outputRange(g), arguments: [
                try arg(dY, op), try arg(indices, op), try arg(dX, op), try int32(g.height, op), try int32(g.width, op),
            ] + (try windowArguments(g, op: op)))
            return dX
        }
        try launchGrid("maxpool_backward", in: .layers, global: inputRange(g), arguments: [
            try arg(dY, op), try arg(indices, op), try arg(dX, op), try int32(g.outHeight, op), try int32(g.outWidth, op),
        ] + (try windowArguments(g, op: op)))
        return dX
    }

    public func avgPool2d(_ x: Tensor, window: PoolWindow, countIncludePad: Bool) throws -> Tensor {
        let op = "avgPool2d"
        let g = try Pool2dShape(input: x.shape, window: window, op: op)
        let y = try empty(g.outputShape)
        try launchGrid("avgpool_forward", in: .layers, global: outputRange(g), arguments: [
            try arg(x, op), try arg(y, op), try int32(g.height, op), try int32(g.width, op),
        ] + (try windowArguments(g, op: op)) + [.int(countIncludePad ? 1 : 0)])
        return y
    }

    public func avgPool2dBackward(_ dY: Tensor, inputShape: [Int], window: PoolWindow, countIncludePad: Bool) throws -> Tensor {
        let op = "avgPool2dBackward"
        let g = try Shapes.poolBackward(dY.shape, inputShape: inputShape, window: window, op: op)
        let dX = try empty(inputShape)
        try launchGrid("avgpool_backward", in: .layers, global: inputRange(g), arguments: [
            try arg(dY, op), try arg(dX, op), try int32(g.outHeight, op), try int32(g.outWidth, op),
        ] + (try windowArguments(g, op: op)) + [.int(countIncludePad ? 1 : 0)])
        return dX
    }

    private func outputRange(_ g: Pool2dShape) -> [Int] { [g.outWidth, g.outHeight, g.n * g.channels] }
    private func inputRange(_ g: Pool2dShape) -> [Int] { [g.width, g.height, g.n * g.channels] }

    /// k, s, p: the last arguments of every pooling kernel but avgpool's count_include_pad; the
    /// whole input and output checked against the kernels' 32-bit plane indices.
    private func windowArguments(_ g: Pool2dShape, op: String) throws -> [KernelArgument] {
        _ = try int32(g.n * g.channels * max(g.height * g.width, g.outHeight * g.outWidth), op)
        return try [g.window.kernel, g.window.stride, g.window.padding].map { try int32($0, op) }
    }
}
