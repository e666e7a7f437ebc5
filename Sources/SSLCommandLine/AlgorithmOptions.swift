// The loss algorithms as command-line values, for `ssl loss` and `ssl-bench` alike.
import ArgumentParser
import SSLCore

extension RedundancyForm: ExpressibleByArgument {}
extension NTXentAlgorithm: ExpressibleByArgument {}
