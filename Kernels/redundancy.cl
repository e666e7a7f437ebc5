// Kernels of the redundancy objectives; see Sources/SSLCore/Losses/.
