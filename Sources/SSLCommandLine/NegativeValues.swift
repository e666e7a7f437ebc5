// `--lr -1`: swift-argument-parser reads a value that starts with '-' as the next option and
// answers "Missing value for '--lr'". Both executables join such pairs before parsing, so that
// the option's own check says what is wrong with -1.

public enum NegativeValues {
    /// `arguments` with every `--option NUMBER` whose number is negative (`-1`, `-0.5`, `-.5`,
    /// `-1e-3`, `-inf`) written as `--option=NUMBER`; everything else as it was.
    public static func joined(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index], next = index + 1 < arguments.endIndex ? arguments[index + 1] : nil
            if argument.hasPrefix("--"), !argument.contains("="), argument.count > 2, let next, isNegativeNumber(next) {
                result.append(argument + "=" + next)
                index += 2
            } else {
                result.append(argument)
                index += 1
            }
        }
        return result
    }

    static func isNegativeNumber(_ text: String) -> Bool {
        guard text.hasPrefix("-"), text.count > 1 else { return false }
        return Double(text) != nil
    }
}
