// Placeholder until the VICReg objective lands.

public protocol VICRegOps {}
