// The eleven methods `ssl train --method` knows, with the families they belong to.

/// A self-supervised method.
public enum Method: String, CaseIterable, Codable, Sendable {
    case simclr, moco, memorybank, swav, deepcluster, sela, byol, simsiam, dino, barlow, vicreg

    public enum Family: String { case contrastive, clustering, distillation, redundancyReduction = "redundancy reduction" }

    public var family: Family {
        switch self {
        case .simclr, .moco, .memorybank: return .contrastive
        case .swav, .deepcluster, .sela: return .clustering
        case .byol, .simsiam, .dino: return .distillation
        case .barlow, .vicreg: return .redundancyReduction
        }
    }

    /// The paper, for reports and help.
    public var paper: String {
        switch self {
        case .simclr: return "SimCLR (Chen et al. 2020)"
        case .moco: return "MoCo v2 (Chen et al. 2020)"
        case .memorybank: return "Instance discrimination with a memory bank (Wu et al. 2018)"
        case .swav: return "SwAV (Caron et al. 2020)"
        case .deepcluster: return "DeepCluster (Caron et al. 2018)"
        case .sela: return "SeLA (Asano et al. 2020)"
        case .byol: return "BYOL (Grill et al. 2020)"
        case .simsiam: return "SimSiam (Chen & He 2021)"
        case .dino: return "DINO (Caron et al. 2021)"
        case .barlow: return "Barlow Twins (Zbontar et al. 2021)"
        case .vicreg: return "VICReg (Bardes et al. 2022)"
        }
    }
}

/// The optimizer a method's paper trains with.
public enum OptimizerKind: String, Codable, Sendable { case sgd, lars, adamw }
