// Placeholder until the NTXent objective lands.

public protocol NTXentOps {}
