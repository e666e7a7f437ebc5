// Kernels of the augment ops; see Sources/SSLCore/Ops/.
