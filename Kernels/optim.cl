// Kernels of the optim ops; see Sources/SSLCore/Ops/.
