// Kernels of the distillation objectives; see Sources/SSLCore/Losses/.
