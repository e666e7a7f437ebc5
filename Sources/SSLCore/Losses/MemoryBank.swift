// Placeholder until the MemoryBank objective lands.

public protocol MemoryBankOps {}
