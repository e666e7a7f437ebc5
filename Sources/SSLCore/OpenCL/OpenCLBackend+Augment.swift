// The augmentation op on the device (Kernels/augment.cl): the per-view parameter table goes up as
// one small float buffer, then three launches cover the whole batch of views: resized crop, flip
// and jitter (one work-group per view); the blur's horizontal pass; its vertical pass with
// solarisation and normalisation.

extension OpenCLBackend {
    public func augment(_ images: Tensor, views: [AugmentView], output: AugmentOutput) throws -> Tensor {
        let op = "augment"
        let (_, c, h, w) = try AugmentReference.validate(images.shape, views: views, output: output)
        let (oh, ow) = (output.height, output.width)
        let shape = [views.count, c, oh, ow]
        let count = shape.reduce(1, *)
        let table = try upload(AugmentReference.table(views), shape: [views.count, AugmentReference.tableStride])
        let stats = try upload(output.mean + output.std, shape: [2, c])
        let staged = try empty(shape), blurred = try empty(shape), result = try empty(shape)
        let cArg = try int32(c, op), ohArg = try int32(oh, op), owArg = try int32(ow, op)
        let countArg = try int32(count, op), sizeArg = try int32(output.blurKernelSize, op)
        try launchRows("augment_views", in: .augment, rows: views.count, length: oh * ow, arguments: [
            try arg(images, op), try arg(table, op), try arg(staged, op), cArg, try int32(h, op), try int32(w, op),
            ohArg, owArg,
        ])
        try launchElements("augment_blur_rows", in: .augment, count: count, arguments: [
            try arg(staged, op), try arg(table, op), try arg(blurred, op), countArg, cArg, ohArg, owArg, sizeArg,
        ])
        try launchElements("augment_blur_columns", in: .augment, count: count, arguments: [
            try arg(blurred, op), try arg(table, op), try arg(stats, op), try arg(result, op), countArg, cArg,
            ohArg, owArg, sizeArg, .float(output.solarizeThreshold),
        ])
        return result
    }
}
