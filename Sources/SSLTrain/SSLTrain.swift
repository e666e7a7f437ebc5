// SSLTrain: layers, encoders, heads, optimizers, data sets, augmentations, evaluation and the
// training loop, built on the ops of SSLCore.
@_exported import SSLCore
