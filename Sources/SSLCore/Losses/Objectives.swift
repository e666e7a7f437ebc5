// The joint-embedding objectives every backend implements, one protocol per method; each
// method's protocol, result types, Double reference and documentation live in its own file here.

/// Every objective of the four families: contrastive (NT-Xent, MoCo, memory bank), clustering
/// (SwAV, DeepCluster, SeLA), distillation (BYOL, SimSiam, DINO) and redundancy reduction
/// (Barlow Twins, VICReg).
public protocol Objectives:
    BarlowTwinsOps, VICRegOps,
    NTXentOps, MoCoOps, MemoryBankOps,
    SwAVOps, DeepClusterOps, SeLAOps,
    BYOLOps, SimSiamOps, DINOOps {}
