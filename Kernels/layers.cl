// Kernels of the layers ops; see Sources/SSLCore/Ops/.
