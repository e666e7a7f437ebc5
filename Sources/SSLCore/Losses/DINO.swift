// Placeholder until the DINO objective lands.

public protocol DINOOps {}
