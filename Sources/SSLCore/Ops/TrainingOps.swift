// The ops training needs beyond the objectives, one protocol per area; each area's protocol,
// result types and Double reference live in its own file here.

/// Layers (forward and backward), optimizer updates, evaluation and augmentation on the device.
public protocol TrainingOps: LayerOps, OptimizerOps, EvalOps, AugmentOps {}
