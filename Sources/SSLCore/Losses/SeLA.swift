// Placeholder until the SeLA objective lands.

public protocol SeLAOps {}
