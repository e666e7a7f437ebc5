// The augmentation op on the device (Kernels/augment.cl): the per-view parameter table goes up as
// one small float buffer, then three launches cover the whole batch of views: resized crop, flip
// and jitter (one work-group per view); the blur's horizontal pass, unless no view is blurred;
// its vertical pass with solarisation and normalisation.

extension OpenCLBackend {
    public func augment(_ images: Tensor, views: [AugmentView], output: AugmentOutput) throws -> Tensor {
        let op = "augment"
        let (_, c, h, w) = try AugmentReference.validate(images.shape, views: views, output: output)
        let (oh, ow) = (output.height, output.width)
        let shape = [views.count, c, oh, ow]
        let count = shape.reduce(1, *)
        let table = try upload(AugmentReference.table(views), shape: [views.count, AugmentReference.tableStride])
        let stats = try upload(output.mean + output.std, shape: [2, c])
        let staged = try empty(shape), result = try empty(shape)
        let cArg = try int32(c, op)
        _ = try int32(count, op)
        try launchRows("augment_views", in: .augment, rows: views.count, length: oh * ow, arguments: [
            try arg(images, op), try arg(table, op), try arg(staged, op), cArg, try int32(h, op), try int32(w, op),
            try int32(oh, op), try int32(ow, op),
        ])
        let grid = [ow, oh, views.count * c]
        let blurs = views.contains { $0.blurSigma > 0 }
        var input = staged
        if blurs {
            input = try empty(shape)
            try context.launch(try context.kernel("augment_blur_rows", in: .augment), name: "augment_blur_rows", global: grid, arguments: [
                try arg(staged, op), try arg(table, op), try arg(input, op), cArg, try int32(output.blurKernelSize, op),
            ])
        }
        try context.launch(try context.kernel("augment_blur_columns", in: .augment), name: "augment_blur_columns", global: grid, arguments: [
            try arg(input, op), try arg(table, op), try arg(stats, op), try arg(result, op), cArg,
            try int32(blurs ? output.blurKernelSize : 0, op), .float(output.solarizeThreshold),
        ])
        return result
    }
}
