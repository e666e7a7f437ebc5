// Placeholder until the BarlowTwins objective lands.

public protocol BarlowTwinsOps {}
