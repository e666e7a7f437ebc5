// The tuning files embedded into the binary. A file written by `ssl tune` is added in two places:
// `.embedInCode("<name>.json")` in Package.swift's Tuning target, and a line below.

public enum TuningFiles {
    /// (file name, contents) of every embedded `Tuning/*.json`.
    public static var all: [(name: String, bytes: [UInt8])] {
        [
        ]
    }
}
