// Kernels of the contrastive objectives; see Sources/SSLCore/Losses/.
