// Kernels of the clustering objectives; see Sources/SSLCore/Losses/.
