// Placeholder until the Optimizer ops land.

public protocol OptimizerOps {}
