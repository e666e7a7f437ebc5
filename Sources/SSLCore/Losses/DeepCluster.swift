// Placeholder until the DeepCluster objective lands.

public protocol DeepClusterOps {}
