// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "SSL",
    products: [
        .library(name: "SSLCore", targets: ["SSLCore"]),
        .library(name: "SSLTrain", targets: ["SSLTrain"]),
        .library(name: "SSLDistributed", targets: ["SSLDistributed"]),
        .executable(name: "ssl", targets: ["ssl"]),
        .executable(name: "ssl-bench", targets: ["ssl-bench"]),
        .executable(name: "ssl-mpi-check", targets: ["ssl-mpi-check"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `swift package generate-documentation` (DocC catalogs in Sources/*/Documentation.docc).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        // The OpenCL ICD loader and CLBlast, as Debian ships them.
        .systemLibrary(
            name: "CLSystem",
            path: "Sources/CLSystem",
            pkgConfig: "clblast",
            providers: [.apt(["ocl-icd-opencl-dev", "opencl-headers", "libclblast-dev"])]
        ),
        // C shim: status-code names taken from the headers' macros.
        .target(name: "COpenCL", dependencies: ["CLSystem"]),
        // GEMM on the host's BLAS (OpenBLAS, dlopened) as a native-kernel command of an OpenCL
        // queue, for CPU devices; no BLAS header or library at build time.
        .target(name: "CHostBLAS", dependencies: ["CLSystem"],
                linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        // C++ shim: CLBlast's RetrieveParameters, which its C API lacks (`ssl devices`, `ssl tune`).
        .target(name: "CCLBlastParameters", dependencies: ["CLSystem"]),
        // OpenCL C sources, embedded into the binary so that it stays relocatable.
        .target(
            name: "Kernels",
            path: "Kernels",
            exclude: ["README.md"],
            resources: [
                .embedInCode("common.cl"),
                .embedInCode("elementwise.cl"),
                .embedInCode("reduce.cl"),
                .embedInCode("softmax.cl"),
                .embedInCode("normalize.cl"),
                .embedInCode("batchnorm.cl"),
                .embedInCode("sinkhorn.cl"),
                .embedInCode("redundancy.cl"),
                .embedInCode("contrastive.cl"),
                .embedInCode("clustering.cl"),
                .embedInCode("distillation.cl"),
                .embedInCode("layers.cl"),
                .embedInCode("optim.cl"),
                .embedInCode("eval.cl"),
                .embedInCode("knn.cl"),
                .embedInCode("gemm_tf32.cl"),
                .embedInCode("augment.cl"),
                .embedInCode("primitives.cl"),
            ]
        ),
        // Measured CLBlast GEMM parameters and ops' forms per device and driver (written by `ssl tune`),
        // embedded so that the binary stays relocatable; each file is listed here and in Tuning/TuningFiles.swift.
        .target(
            name: "Tuning",
            path: "Tuning",
            exclude: ["README.md"],
            resources: [
                .embedInCode("pthread-skylake-avx512-Intel_R__Xeon_R__Processor--3.1_debian.json"),
                .embedInCode("pthread-skylake-avx512-AMD_EPYC--3.1_debian.json"),
            ]
        ),
        // zlib, for the gzip-compressed IDX files of MNIST-style data sets.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Runtime, tensors, backends, ops and objectives.
        .target(name: "SSLCore", dependencies: ["COpenCL", "CLSystem", "CHostBLAS", "CCLBlastParameters", "Kernels", "Tuning"]),
        // Layers, encoders, optimizers, data, augmentations, evaluation and training.
        .target(name: "SSLTrain", dependencies: ["SSLCore", "SSLDistributed", "CZlib"]),
        // Command-line pieces both executables share (--device).
        .target(
            name: "SSLCommandLine",
            dependencies: ["SSLCore", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // C shim over Open MPI, loaded with dlopen only for a world of more than one process:
        // no MPI header at build time, no libmpi at run time for one process.
        .target(name: "CMPI", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        // The data-parallel communicator (MPI_COMM_WORLD, or one process without MPI).
        .target(name: "SSLDistributed", dependencies: ["SSLCore", "CMPI"]),
        // Runs every collective on known data; the tests launch it under mpirun.
        .executableTarget(name: "ssl-mpi-check", dependencies: ["SSLCore", "SSLTrain", "SSLDistributed", "CMPI"]),
        .executableTarget(
            name: "ssl",
            dependencies: ["SSLCore", "SSLTrain", "SSLDistributed", "SSLCommandLine",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "ssl-bench",
            dependencies: ["SSLCore", "SSLTrain", "SSLCommandLine",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/ssl-bench"
        ),
        .testTarget(name: "SSLCoreTests", dependencies: ["SSLCore", "SSLTrain", "SSLDistributed", "SSLCommandLine", "ssl", "ssl-mpi-check"]),
        // The library as a user sees it: public API only, no @testable import, Swift 6 checking.
        .testTarget(name: "SSLLibraryTests", dependencies: ["SSLCore", "SSLTrain"],
                    swiftSettings: [.swiftLanguageMode(.v6)]),
        // Hostile inputs, generated: .npy, checkpoints, configuration files, numeric options.
        .testTarget(name: "SSLFuzzTests", dependencies: [
            "SSLCore", "SSLTrain", "ssl",
        ]),
    ],
    swiftLanguageModes: [.v5]
)
