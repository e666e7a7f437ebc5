// A chain of layers: forward in order, backward in reverse (the model's backward in llm.c).
import SSLCore

/// Layers applied in order, as `torch.nn.Sequential`. Its cache is the list of its layers' caches.
public final class Sequential: Layer {
    public let layers: [any Layer]

    public init(_ layers: [any Layer]) { self.layers = layers }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
    public var buffers: [NamedBuffer] { layers.flatMap(\.buffers) }
    public var sublayers: [any Layer] { layers }
    public func setTraining(_ training: Bool) { for layer in layers { layer.setTraining(training) } }

    struct Cache: LayerCache { let caches: [LayerCache] }

    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: LayerCache) {
        let (y, caches) = try layers.forward(x)
        return (y, Cache(caches: caches))
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor { try layers.reduce(x) { try $1($0) } }

    public func backward(_ cache: LayerCache, _ dY: Tensor) throws -> Tensor {
        try layers.backward(try layerCache(cache, as: Cache.self, layer: "Sequential").caches, dY)
    }

    public func backwardParameters(_ cache: LayerCache, _ dY: Tensor) throws {
        try layers.backwardParameters(try layerCache(cache, as: Cache.self, layer: "Sequential").caches, dY)
    }
}
