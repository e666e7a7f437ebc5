// A network as the PyTorch module of the same architecture: the Python that builds it and its
// state_dict, so `ssl export` writes weights `module.load_state_dict` takes as they are.
import SSLCore

/// The PyTorch counterpart of a network: ``code`` builds an `nn.Module` of the same
/// architecture, whose `state_dict()` has exactly the names of ``state``.
///
/// Sequential containers (``MLPEncoder``, ``ConvNetEncoder``, ``MLPHead``, ``ResNetEncoder``, ``Sequential``) become
/// `nn.Sequential` with their children at indices 0, 1, …; ``Linear``, ``Conv2d`` and batch norm
/// become `nn.Linear`, `nn.Conv2d`, `nn.BatchNorm1d`/`2d` (`weight`, `bias`, `running_mean`,
/// `running_var`, `num_batches_tracked`). ``BasicBlock`` and ``DINOHead`` have no `torch.nn`
/// class: ``pythonClasses`` defines them (`main`/`shortcut` and DINO's own `mlp`/`last_layer`).
public struct TorchModule {
    public enum Value {
        case tensor(Tensor)
        /// Batch norm's `num_batches_tracked`, a 0-d int64.
        case count(Int64)
        /// DINO's `last_layer.weight_g`, ones of this many rows (`(rows, 1)`).
        case ones(rows: Int)
    }

    /// A Python expression building the module (`torch.nn` imported as `nn`).
    public let code: String
    /// `state_dict()` names and values, in the module's order.
    public let state: [(name: String, value: Value)]

    /// - Parameters:
    ///   - layer: a network of the layers above.
    ///   - batchesTracked: what batch norms report as `num_batches_tracked` (PyTorch reads
    ///     it only when `momentum=None`; the library's momentum is always set).
    public init(_ layer: any Layer, batchesTracked: Int64 = 0) throws {
        (code, state) = try Self.describe(layer, batchesTracked)
    }

    private static func describe(_ layer: any Layer, _ tracked: Int64) throws -> (String, [(name: String, value: Value)]) {
        func sequential(_ layers: [any Layer]) throws -> (String, [(name: String, value: Value)]) {
            var codes: [String] = [], state: [(name: String, value: Value)] = []
            for (i, child) in layers.enumerated() {
                let (c, s) = try describe(child, tracked)
                codes.append(c)
                state += s.map { ("\(i).\($0.name)", $0.value) }
            }
            return ("nn.Sequential(\(codes.joined(separator: ", ")))", state)
        }
        func python(_ flag: Bool) -> String { flag ? "True" : "False" }
        switch layer {
        case let s as Sequential: return try sequential(s.layers)
        case let e as MLPEncoder: return try sequential(e.body.layers)
        case let h as MLPHead: return try sequential(h.body.layers)
        case let e as ConvNetEncoder: return try sequential(e.body.layers)
        case let e as ResNetEncoder: return try sequential(e.body.layers)
        case is Flatten: return ("nn.Flatten()", [])
        case is ReLU: return ("nn.ReLU()", [])
        case is GELU: return ("nn.GELU()", [])
        case is GlobalAvgPool: return ("nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())", [])
        case let p as MaxPool2d:
            return ("nn.MaxPool2d(\(p.window.kernel), stride=\(p.window.stride), padding=\(p.window.padding))", [])
        case let p as AvgPool2d:
            return ("nn.AvgPool2d(\(p.window.kernel), stride=\(p.window.stride), padding=\(p.window.padding), "
                    + "count_include_pad=\(python(p.countIncludePad)))", [])
        case let l as Linear:
            return ("nn.Linear(\(l.inFeatures), \(l.outFeatures), bias=\(python(l.bias != nil)))",
                    [("weight", .tensor(l.weight.value))] + (l.bias.map { [("bias", .tensor($0.value))] } ?? []))
        case let c as Conv2d:
            return ("nn.Conv2d(\(c.inChannels), \(c.outChannels), \(c.kernel), stride=\(c.stride), padding=\(c.padding), "
                    + "bias=\(python(c.bias != nil)))",
                    [("weight", .tensor(c.weight.value))] + (c.bias.map { [("bias", .tensor($0.value))] } ?? []))
        case let bn as BatchNorm:
            let kind = bn is BatchNorm2d ? "BatchNorm2d" : "BatchNorm1d"
            let affine: [(name: String, value: Value)] = [bn.gamma.map { ("weight", .tensor($0.value)) },
                                                         bn.beta.map { ("bias", .tensor($0.value)) }].compactMap { $0 }
            return ("nn.\(kind)(\(bn.features), eps=\(bn.eps), momentum=\(bn.momentum), affine=\(python(bn.gamma != nil)))",
                    affine + [("running_mean", .tensor(bn.running.mean)), ("running_var", .tensor(bn.running.variance)),
                              ("num_batches_tracked", .count(tracked))])
        case let block as BasicBlock:
            let conv1 = block.main.layers[0] as! Conv2d
            let (_, main) = try sequential(block.main.layers)
            let shortcut = try block.shortcut.map { try sequential($0.layers).1 } ?? []
            return ("BasicBlock(\(conv1.inChannels), \(conv1.outChannels), stride=\(conv1.stride))",
                    main.map { ("main.\($0.name)", $0.value) } + shortcut.map { ("shortcut.\($0.name)", $0.value) })
        case let head as DINOHead:
            let (_, mlp) = try sequential(head.mlp.body.layers)
            let linears = head.mlp.body.layers.compactMap { $0 as? Linear }
            let bn = head.mlp.body.layers.contains { $0 is BatchNorm }
            return ("DINOHead(\(linears[0].inFeatures), \(head.outputDimension), use_bn=\(python(bn)), nlayers=\(linears.count), "
                    + "hidden_dim=\(linears.count > 1 ? linears[0].outFeatures : 2048), bottleneck_dim=\(head.lastLayer.inFeatures))",
                    mlp.map { ("mlp.\($0.name)", $0.value) }
                        + [("last_layer.weight_g", .ones(rows: head.outputDimension)),
                           ("last_layer.weight_v", .tensor(head.lastLayer.direction.value))])
        default:
            throw SSLError.invalidArgument(op: "export", detail: "\(type(of: layer)) has no PyTorch module to export to")
        }
    }

    /// The Python classes ``code`` may name besides `torch.nn`'s: torchvision's BasicBlock with
    /// this library's `main`/`shortcut` layout, and DINO's head (facebookresearch/dino `DINOHead`,
    /// whose `forward` normalises before the weight-normalised last layer).
    public static let pythonClasses = """
        import torch
        from torch import nn

        class BasicBlock(nn.Module):
            def __init__(self, cin, cout, stride=1):
                super().__init__()
                self.main = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                                          nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
                self.shortcut = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                                 if stride != 1 or cin != cout else nn.Identity())

            def forward(self, x):
                return torch.relu(self.main(x) + self.shortcut(x))

        class DINOHead(nn.Module):
            def __init__(self, in_dim, out_dim, use_bn=False, nlayers=3, hidden_dim=2048, bottleneck_dim=256):
                super().__init__()
                dims = [in_dim] + [hidden_dim] * (nlayers - 1) + [bottleneck_dim]
                layers = []
                for i in range(nlayers):
                    layers.append(nn.Linear(dims[i], dims[i + 1]))
                    if i < nlayers - 1:
                        layers += ([nn.BatchNorm1d(dims[i + 1])] if use_bn else []) + [nn.GELU()]
                self.mlp = nn.Sequential(*layers)
                self.last_layer = nn.utils.weight_norm(nn.Linear(bottleneck_dim, out_dim, bias=False))

            def forward(self, x):
                return self.last_layer(nn.functional.normalize(self.mlp(x), dim=-1, p=2))
        """

    /// The safetensors file of ``state`` (float32 tensors, int64 counts), with ``code`` in its
    /// metadata under `key` (`format: pt`, as PyTorch's savers write).
    public func add(to file: inout SafeTensors, prefix: String = "", key: String = "module", on backend: any Backend) throws {
        for (name, value) in state {
            switch value {
            case .tensor(let t): try file.add(prefix + name, .float32(try backend.download(t)), shape: t.shape)
            case .count(let n): try file.add(prefix + name, .int64([n]), shape: [])
            case .ones(let rows): try file.add(prefix + name, .float32([Float](repeating: 1, count: rows)), shape: [rows, 1])
            }
        }
        file.metadata["format"] = "pt"
        file.metadata[key] = code
    }

    /// A trained objective as a safetensors file and the Python that loads it: the encoder alone
    /// (names as its module's), or with `heads` every trainable module, each name prefixed by its
    /// module's (`encoder.`, `projector.`, …) for an `nn.ModuleDict`.
    /// - Parameters:
    ///   - objective: trained, e.g. from `TrainedEncoder.loadObjective(_:data:on:)`.
    ///   - heads: every trainable module rather than the encoder alone.
    ///   - batchesTracked: batch norm's `num_batches_tracked` (the run's steps).
    ///   - backend: the tensors' backend.
    public static func export(_ objective: any Objective, heads: Bool, batchesTracked: Int64,
                              on backend: any Backend) throws -> (file: SafeTensors, python: String) {
        var file = SafeTensors(), definition: String
        if heads {
            var modules: [String] = []
            for layer in objective.trainable {
                let name = layer.parameters.first.map { String($0.name.prefix { $0 != "." }) } ?? "module\(modules.count)"
                let module = try TorchModule(layer, batchesTracked: batchesTracked)
                try module.add(to: &file, prefix: name + ".", key: name, on: backend)
                modules.append("\"\(name)\": \(module.code)")
            }
            definition = "model = nn.ModuleDict({" + modules.joined(separator: ", ") + "})"
        } else {
            let module = try TorchModule(objective.encoder, batchesTracked: batchesTracked)
            try module.add(to: &file, key: "encoder", on: backend)
            definition = "model = \(module.code)"
        }
        let custom = definition.contains("BasicBlock(") || definition.contains("DINOHead(")
        let python = (custom ? pythonClasses : "import torch\nfrom torch import nn") + "\nfrom safetensors.torch import load_file\n\n"
            + definition + "\n"
        return (file, python)
    }
}
