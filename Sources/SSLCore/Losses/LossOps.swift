// The joint-embedding objectives every backend implements, one protocol per method; each
// method's protocol, result types, Double reference and documentation live in its own file here.

/// Every objective of the four families: contrastive (NT-Xent, MoCo, memory bank), clustering
/// (SwAV, DeepCluster, SeLA), distillation (BYOL, SimSiam, DINO) and redundancy reduction
/// (Barlow Twins, VICReg): each loss and its gradients in one call. SSLTrain's `Objective` is
/// a whole method (networks, views, a step) built on one of these.
public protocol LossOps:
    BarlowTwinsOps, VICRegOps,
    NTXentOps, MoCoOps, MemoryBankOps,
    SwAVOps, DeepClusterOps, SeLAOps,
    BYOLOps, SimSiamOps, DINOOps {}

/// The former name of ``LossOps``, which read too much like SSLTrain's `Objective`.
@available(*, deprecated, renamed: "LossOps")
public typealias Objectives = LossOps
