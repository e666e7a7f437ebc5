// Placeholder until the Augment ops land.

public protocol AugmentOps {}
