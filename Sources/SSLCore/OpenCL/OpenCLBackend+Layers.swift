// The layers' bias, activation and global-pooling ops on the device (Kernels/layers.cl);
// convolution, batch normalisation and pooling are in OpenCLBackend+Layers<Concern>.swift.

extension OpenCLBackend {
    // MARK: - Bias

    public func addBias(_ bias: Tensor, to x: Tensor) throws {
        let op = "addBias"
        let v = try Shapes.channels(x.shape, op: op)
        try Shapes.perChannel(bias.shape, of: x.shape, op: op, name: "bias")
        _ = try int32(x.count, op)
        guard x.count > 0 else { return }
        try context.launch(try context.kernel("bias_add", in: .layers), name: "bias_add", global: [v.inner, v.c, v.n],
                           arguments: [try arg(x, op), try arg(bias, op)])
    }

    public func biasBackward(_ dY: Tensor, addingInto dBias: Tensor) throws {
        let op = "biasBackward"
        let v = try Shapes.channels(dY.shape, op: op, name: "dY")
        try Shapes.perChannel(dBias.shape, of: dY.shape, op: op, name: "dBias")
        _ = try int32(dY.count, op)
        if reducesColumnsPerWorkItem(inner: v.inner) {
            try launchColumns("bias_backward_columns", in: .layers, columns: v.c, arguments: [
                try arg(dY, op), try arg(dBias, op), try int32(v.n, op), try int32(v.c, op),
            ])
        } else {
            try launchRows("bias_backward", in: .layers, rows: v.c, length: v.n * v.inner, arguments: [
                try arg(dY, op), try arg(dBias, op), try int32(v.n, op), try int32(v.c, op), try int32(v.inner, op),
            ])
        }
    }

    // MARK: - Activations

    public func relu(_ x: Tensor) throws -> Tensor { try activation("relu_forward", x, op: "relu") }

    public func reluBackward(_ x: Tensor, _ dY: Tensor) throws -> Tensor {
        try activationBackward("relu_backward", x, dY, op: "reluBackward")
    }

    public func gelu(_ x: Tensor) throws -> Tensor { try activation("gelu_forward", x, op: "gelu") }

    public func geluBackward(_ x: Tensor, _ dY: Tensor) throws -> Tensor {
        try activationBackward("gelu_backward", x, dY, op: "geluBackward")
    }

    /// GELU's erf: the polynomial on CPU devices, whose compilers call a scalar erf (layers.cl).
    private var activationOptions: String { device.kind == .cpu ? "-DGELU_POLYNOMIAL_ERF" : "" }

    private func activation(_ kernel: String, _ x: Tensor, op: String) throws -> Tensor {
        try Shapes.elementwise(x.shape, op: op)
        let y = try empty(x.shape)
        try launchElements(kernel, in: .layers, options: activationOptions, count: x.count, arguments: [
            try arg(x, op), try arg(y, op), try int32(x.count, op),
        ])
        return y
    }

    private func activationBackward(_ kernel: String, _ x: Tensor, _ dY: Tensor, op: String) throws -> Tensor {
        try Shapes.elementwise(x.shape, dY.shape, op: op)
        let dX = try empty(x.shape)
        try launchElements(kernel, in: .layers, options: activationOptions, count: x.count, arguments: [
            try arg(x, op), try arg(dY, op), try arg(dX, op), try int32(x.count, op),
        ])
        return dX
    }

    // MARK: - Global average pooling

    /// The plane means, as the library's row mean (reduce.cl) over `(N·C, H·W)`.
    public func globalAvgPool(_ x: Tensor) throws -> Tensor {
        let p = try Shapes.globalPool(x.shape, op: "globalAvgPool")
        return try mean(try x.reshaped([p.planes, p.size]), axis: 1).reshaped([x.shape[0], x.shape[1]])
    }

    public func globalAvgPoolBackward(_ dY: Tensor, inputShape: [Int]) throws -> Tensor {
        let op = "globalAvgPoolBackward"
        let p = try Shapes.globalPoolBackward(dY.shape, inputShape: inputShape)
        let dX = try empty(inputShape)
        try launchElements("global_avgpool_backward", in: .layers, count: dX.count, arguments: [
            try arg(dY, op), try arg(dX, op), try int32(dX.count, op), try int32(p.size, op),
            .float(Float(1 / Double(p.size))),
        ])
        return dX
    }
}
