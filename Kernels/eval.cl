// Kernels of the eval ops; see Sources/SSLCore/Ops/.
