// Pooling layers, as torch.nn.MaxPool2d, AvgPool2d and the ResNet head's global average pooling.
import SSLCore

/// `torch.nn.MaxPool2d(kernel, stride=kernel, padding=0)` on `(N, C, H, W)`; the argmax indices
/// are the cache.
public final class MaxPool2d: Layer {
    public let window: PoolWindow
    let backend: any Backend

    /// - Parameters: stride: nil means the kernel size, PyTorch's default; padding ≤ kernel/2.
    public init(kernel: Int, stride: Int? = nil, padding: Int = 0, on backend: any Backend) {
        window = PoolWindow(kernel: kernel, stride: stride, padding: padding)
        self.backend = backend
    }

    struct Cache: LayerCache { let indices: Tensor, inputShape: [Int] }

    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) {
        let r = try backend.maxPool2d(x, window: window)
        return (r.y, Cache(indices: r.indices, inputShape: x.shape))
    }

    public func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor {
        let c = try layerCache(cache, as: Cache.self, layer: "MaxPool2d")
        return try backend.maxPool2dBackward(dY, indices: c.indices, inputShape: c.inputShape, window: window)
    }
}

/// `torch.nn.AvgPool2d(kernel, stride=kernel, padding=0, count_include_pad=True)` on `(N, C, H, W)`.
public final class AvgPool2d: Layer {
    public let window: PoolWindow
    public let countIncludePad: Bool
    let backend: any Backend

    public init(kernel: Int, stride: Int? = nil, padding: Int = 0, countIncludePad: Bool = true, on backend: any Backend) {
        window = PoolWindow(kernel: kernel, stride: stride, padding: padding)
        self.countIncludePad = countIncludePad
        self.backend = backend
    }

    struct Cache: LayerCache { let inputShape: [Int] }

    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) {
        (try backend.avgPool2d(x, window: window, countIncludePad: countIncludePad), Cache(inputShape: x.shape))
    }

    public func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor {
        try backend.avgPool2dBackward(dY, inputShape: try layerCache(cache, as: Cache.self, layer: "AvgPool2d").inputShape,
                                      window: window, countIncludePad: countIncludePad)
    }
}

/// `(N, C, H, W)` → `(N, C)`: the mean of each plane, as `torch.flatten(adaptive_avg_pool2d(x, 1), 1)`.
public final class GlobalAvgPool: Layer {
    let backend: any Backend

    public init(on backend: any Backend) { self.backend = backend }

    struct Cache: LayerCache { let inputShape: [Int] }

    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) {
        (try backend.globalAvgPool(x), Cache(inputShape: x.shape))
    }

    public func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor {
        try backend.globalAvgPoolBackward(dY, inputShape: try layerCache(cache, as: Cache.self, layer: "GlobalAvgPool").inputShape)
    }
}
