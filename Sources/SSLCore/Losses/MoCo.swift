// Placeholder until the MoCo objective lands.

public protocol MoCoOps {}
