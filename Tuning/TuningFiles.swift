// The tuning files embedded into the binary. A file written by `ssl tune` is added in two places:
// `.embedInCode("<name>.json")` in Package.swift's Tuning target, and a line below.

public enum TuningFiles {
    /// (file name, contents) of every embedded `Tuning/*.json`.
    public static var all: [(name: String, bytes: [UInt8])] {
        [
            ("pthread-skylake-avx512-Intel_R__Xeon_R__Processor--3.1_debian.json",
             PackageResources.pthread_skylake_avx512_Intel_R__Xeon_R__Processor__3_1_debian_json),
            ("pthread-skylake-avx512-AMD_EPYC--3.1_debian.json",
             PackageResources.pthread_skylake_avx512_AMD_EPYC__3_1_debian_json),
        ]
    }
}
