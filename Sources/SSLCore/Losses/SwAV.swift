// Placeholder until the SwAV objective lands.

public protocol SwAVOps {}
