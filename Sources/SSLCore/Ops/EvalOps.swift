// Placeholder until the Eval ops land.

public protocol EvalOps {}
