// Reference augmentation: Float images to Double, AugmentReference's stages view by view, back to Float.

extension ReferenceBackend {
    public func augment(_ images: Tensor, views: [AugmentView], output: AugmentOutput) throws -> Tensor {
        let shape = try AugmentReference.validate(images.shape, views: views, output: output)
        try HostMemory.require([views.count, shape.c, output.height, output.width], bytesPerValue: 8,
                               what: "\(views.count) augmented views of \(output.height)×\(output.width)")
        let values = try self.values(images, op: "augment").map(Double.init)
        let out = AugmentReference.apply(images: values, shape: shape, views: views, output: output)
        return make(out.map(Float.init), [views.count, shape.c, output.height, output.width])
    }
}
