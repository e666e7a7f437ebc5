// Placeholder until the BYOL objective lands.

public protocol BYOLOps {}
