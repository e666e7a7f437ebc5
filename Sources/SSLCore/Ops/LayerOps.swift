// Placeholder until the Layer ops land.

public protocol LayerOps {}
