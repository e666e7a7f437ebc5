// Shared test helpers: the backends under test, seeded inputs, fixtures, and one closeness check.
import Foundation
import Synchronization
import Testing
@testable import SSLCore

enum TestBackends {
    static let reference = ReferenceBackend()

    /// One OpenCL backend for the whole test run, so kernels compile once (under Oclgrind, see
    /// ``perThread``).
    /// Nil only outside CI when no OpenCL device exists; in CI (`CI` set) a missing device fails.
    static var openCL: OpenCLBackend? {
        guard let shared else { return nil }
        return shared.context.device.isOclgrind ? perThread(like: shared) : shared
    }

    static var hasOpenCL: Bool { shared != nil }

    private static let shared: OpenCLBackend? = {
        do {
            return try OpenCLBackend(device: try Devices.resolve(.openCL))
        } catch {
            if ProcessInfo.processInfo.environment["CI"] != nil {
                fatalError("CI needs an OpenCL device for the parity tests (install pocl-opencl-icd): \(error)")
            }
            print("OpenCL parity tests skipped: \(error)")
            return nil
        }
    }()

    /// Oclgrind 21.10's uninitialised-value check keeps a shadow-memory pool per thread, created
    /// when a context is created on that thread; a host write executed on a thread that never
    /// created one dereferences a null pool (`Uninitialized::hostMemoryStore`). Swift Testing runs
    /// tests on several threads, so under Oclgrind each thread first creates a context of its own,
    /// kept to the end of the run, and then uses the shared one.
    private static func perThread(like shared: OpenCLBackend) -> OpenCLBackend {
        let thread = Thread.current
        perThreadContexts.withLock { contexts in
            guard contexts[ObjectIdentifier(thread)] == nil else { return }
            contexts[ObjectIdentifier(thread)] = (thread, try? OpenCLContext(device: shared.context.device, kernelCache: nil))
        }
        return shared
    }

    /// Keyed by the thread object, which the entry keeps alive so that its identity is not reused.
    private static let perThreadContexts = Mutex<[ObjectIdentifier: (thread: Thread, context: OpenCLContext?)]>([:])
}

/// The Oclgrind run (scripts/oclgrind.sh sets `SSL_TEST_OCLGRIND`): Oclgrind interprets every
/// instruction of a kernel with its checks on (Barlow Twins' parity at 130 × 200 alone takes 15
/// minutes), so there the parity tests keep their cases of at most `limit` values; the small odd
/// sizes take every branch of the kernels (1, primes, non-multiples of every tile).
enum Oclgrind {
    static let isRunning = ProcessInfo.processInfo.environment["SSL_TEST_OCLGRIND"] != nil

    static func cases<T>(_ all: [T], limit: Int = 5_000, size: (T) -> Int) -> [T] {
        isRunning ? all.filter { size($0) <= limit } : all
    }

    /// All of `all`, or under Oclgrind its first `count`.
    static func first<T>(_ count: Int, of all: [T]) -> [T] { isRunning ? Array(all.prefix(count)) : all }
}

/// Seeded test inputs, from the library's SplitMix64.
struct SeededRandom {
    private var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }

    /// Uniform in [-scale, scale).
    mutating func uniform(_ count: Int, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
    }
}

/// Checks shape, then |actual − expected| ≤ atol + rtol·|expected| element-wise; reports the
/// first mismatches and the worst errors. NaN or Inf on either side fails: most expected values
/// come from the reference backend, whose NaN would otherwise compare as "close" to anything.
func assertClose(_ actual: [Float], _ expected: [Double], shape: [Int], expectedShape: [Int],
                 rtol: Double, atol: Double, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    guard shape == expectedShape else {
        Issue.record("\(what): shape \(shape) != expected \(expectedShape)", sourceLocation: sourceLocation)
        return
    }
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) values != expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    var mismatches: [String] = []
    var worstAbs = 0.0, worstRel = 0.0
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let diff = abs(Double(a) - e)
        if !a.isFinite || !e.isFinite || !(diff <= atol + rtol * abs(e)) {
            if mismatches.count < 5 { mismatches.append("[\(i)] \(a) vs \(e)") }
        }
        if a.isFinite && e.isFinite {
            worstAbs = max(worstAbs, diff)
            worstRel = max(worstRel, diff / max(abs(e), 1e-30))
        } else {
            worstAbs = .infinity
        }
    }
    if !mismatches.isEmpty {
        Issue.record("\(what): \(mismatches.joined(separator: ", ")); worst abs \(worstAbs), worst rel \(worstRel)",
                     sourceLocation: sourceLocation)
    }
}

func assertClose(_ actual: Tensor, on backend: any Backend, _ expected: Tensor, on expectedBackend: any Backend,
                 rtol: Double, atol: Double, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let a = try backend.download(actual)
    let e = try expectedBackend.download(expected).map(Double.init)
    assertClose(a, e, shape: actual.shape, expectedShape: expected.shape, rtol: rtol, atol: atol, what,
                sourceLocation: sourceLocation)
}

/// The float64 fixtures written by Tests/Fixtures/make_fixtures.py.
enum Fixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ name: String) -> String { folder.appendingPathComponent(name + ".npy").path }

    static func floats(_ name: String) throws -> (values: [Float], shape: [Int]) {
        let array = try NumPy.read(path(name))
        return (try array.floats(), array.shape)
    }

    /// Float64 values kept in Double (the reader's `floats()` would round them).
    static func doubles(_ name: String) throws -> (values: [Double], shape: [Int]) {
        let array = try NumPy.read(path(name))
        precondition(array.dtype == .float64, "\(name) is not float64")
        let values: [Double] = array.data.withUnsafeBytes { raw in
            (0..<array.count).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }
        }
        return (values, array.shape)
    }
}

/// Every backend available in this run, the reference first.
var allBackends: [any Backend] {
    [TestBackends.reference] + (TestBackends.openCL.map { [$0] } ?? [])
}

/// The reference, then the OpenCL device twice: its row kernels and topK with a work-group per
/// row, then with one work-item per row (``KernelChoices/serialRows``), so that both forms are
/// checked whichever the device picks.
var allBackendsBothRowForms: [any Backend] {
    [TestBackends.reference] + (TestBackends.openCL.map { device in
        [false, true].map { OpenCLBackend(context: device.context, kernels: KernelChoices(serialRows: $0)) }
    } ?? [])
}

/// The OpenCL test device with its row kernels in one form: a work-group per row (false) or one
/// work-item per row, the -DROWS_SERIAL build (true), whichever the device would pick.
func openCL(serialRows: Bool) -> OpenCLBackend {
    OpenCLBackend(context: TestBackends.openCL!.context, kernels: KernelChoices(serialRows: serialRows))
}

/// Runs `body` once per backend of ``allBackendsBothRowForms``.
func forEachBackendBothRowForms(_ body: (any Backend) throws -> Void) rethrows {
    for backend in allBackendsBothRowForms { try body(backend) }
}

/// The OpenCL test device with the library's built-in automatic choices, whatever tuning file
/// (``TunedPaths``) applies to it; nil without OpenCL.
var untunedOpenCL: OpenCLBackend? {
    guard let device = TestBackends.openCL else { return nil }
    return OpenCLBackend(context: device.context, kernels: device.kernels, paths: nil)
}

/// The reference and ``untunedOpenCL``: for the tests of the built-in automatic choices.
var untunedBackends: [any Backend] { [TestBackends.reference] + (untunedOpenCL.map { [$0] } ?? []) }

/// Runs `body` once per backend, naming the backend in its failures.
func forEachBackend(_ body: (any Backend) throws -> Void) rethrows {
    for backend in allBackends { try body(backend) }
}
