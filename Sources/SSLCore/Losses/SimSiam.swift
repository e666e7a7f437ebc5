// Placeholder until the SimSiam objective lands.

public protocol SimSiamOps {}
