// Views through a network as the official SimCLR, SwAV and DINO code runs them: as joint batches,
// so that batch norm normalises over all views of a sample set at once.
import SSLCore

/// Views through `backbone` and `head` as joint batches: the consecutive views of one size as one
/// batch through the backbone, then every view's backbone output as one batch through the head.
///
/// This is google-research/simclr's `tf.concat(features_list, 0)` (both views, 2N rows, through
/// the ResNet and the projection head) and the `MultiCropWrapper` of facebookresearch/swav and
/// dino (`torch.cat` of the crops of one resolution through the backbone, all crops through the
/// head). Batch norm then sees 2N rows where a per-view forward (BYOL, SimSiam, Barlow Twins,
/// VICReg, as their official code does) sees N twice: its statistics, and so the loss, differ.
public struct JointForward {
    public let backbone: [any Layer]
    /// Runs on every view's backbone output at once; may be empty.
    public let head: [any Layer]

    public init(backbone: [any Layer], head: [any Layer]) {
        self.backbone = backbone
        self.head = head
    }

    /// What ``backward(_:_:on:)`` needs.
    public struct Cache {
        fileprivate let groups: [(views: Range<Int>, rows: Range<Int>, caches: [LayerCache])]
        fileprivate let head: [LayerCache]
        fileprivate let viewRows: [Range<Int>]
    }

    /// The head's output for each view, in view order.
    public func forward(_ views: [Tensor], on backend: any Backend) throws -> (outputs: [Tensor], cache: Cache) {
        var groups: [(views: Range<Int>, rows: Range<Int>, caches: [LayerCache])] = [], features: [Tensor] = []
        var start = 0, row = 0
        while start < views.count {
            var end = start + 1
            while end < views.count && views[end].shape.dropFirst() == views[start].shape.dropFirst() { end += 1 }
            let batch = end - start == 1 ? views[start] : try backend.concatenateRows(Array(views[start..<end]))
            let (y, caches) = try backbone.forward(batch)
            groups.append((start..<end, row..<(row + batch.shape[0]), caches))
            features.append(y)
            (start, row) = (end, row + batch.shape[0])
        }
        let (out, headCaches) = try head.forward(features.count == 1 ? features[0] : try backend.concatenateRows(features))
        var viewRows: [Range<Int>] = [], offset = 0
        for view in views {
            viewRows.append(offset..<(offset + view.shape[0]))
            offset += view.shape[0]
        }
        let outputs = try viewRows.map { views.count == 1 ? out : try backend.rows(out, $0) }
        return (outputs, Cache(groups: groups, head: headCaches, viewRows: viewRows))
    }

    /// The backward of ``forward(_:on:)`` for ∂L/∂output of each view; parameter gradients add up.
    public func backward(_ cache: Cache, _ dOutputs: [Tensor], on backend: any Backend) throws {
        let dOut = dOutputs.count == 1 ? dOutputs[0] : try backend.concatenateRows(dOutputs)
        let dFeatures = try head.backward(cache.head, dOut)
        for group in cache.groups.reversed() {
            let dY = cache.groups.count == 1 ? dFeatures : try backend.rows(dFeatures, group.rows)
            try backbone.backwardParameters(group.caches, dY)
        }
    }
}
