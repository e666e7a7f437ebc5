// Parameter-free layers: ReLU, GELU and Flatten.
import SSLCore

/// `max(x, 0)`, as `torch.nn.ReLU`; the cache is the input (the gradient passes where x > 0).
public final class ReLU: Layer {
    let backend: any Backend

    public init(on backend: any Backend) { self.backend = backend }

    struct Cache: LayerCache { let x: Tensor }

    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) {
        (try backend.relu(x), Cache(x: x))
    }

    public func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor {
        try backend.reluBackward(try layerCache(cache, as: Cache.self, layer: "ReLU").x, dY)
    }
}

/// The exact GELU `x · Φ(x)`, as `torch.nn.GELU()` (DINO's head).
public final class GELU: Layer {
    let backend: any Backend

    public init(on backend: any Backend) { self.backend = backend }

    struct Cache: LayerCache { let x: Tensor }

    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) {
        (try backend.gelu(x), Cache(x: x))
    }

    public func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor {
        try backend.geluBackward(try layerCache(cache, as: Cache.self, layer: "GELU").x, dY)
    }
}

/// `(N, …)` → `(N, product of the rest)`, as `torch.nn.Flatten()`; shares the storage.
public final class Flatten: Layer {
    public init() {}

    struct Cache: LayerCache { let shape: [Int] }

    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) {
        guard x.rank >= 1, x.shape.allSatisfy({ $0 > 0 }) else {
            throw SSLError.shapeMismatch(op: "Flatten", detail: "x must be non-empty with rank ≥ 1, got \(shapeDescription(x.shape))")
        }
        return (try x.reshaped([x.shape[0], x.count / x.shape[0]]), Cache(shape: x.shape))
    }

    public func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor {
        try dY.reshaped(try layerCache(cache, as: Cache.self, layer: "Flatten").shape)
    }
}
