// Device choice, kernel build failures, allocation limits, and the on-disk program cache.
import Foundation
import Testing
@testable import SSLCore

@Suite struct DeviceTests {
    @Test("device specs parse", arguments: [
        ("auto", DeviceSpec.auto), ("GPU", .gpu), ("opencl", .openCL), ("opencl:1:2", .openCLIndex(platform: 1, device: 2)),
        ("reference", .reference),
    ])
    func parses(_ c: (String, DeviceSpec)) throws {
        #expect(try DeviceSpec(parsing: c.0) == c.1)
    }

    @Test("an unknown device is an error listing the valid choices", arguments: ["cuda", "opencl:x:0", "opencl:0", "opencl:-1:0"])
    func unknownSpec(_ text: String) {
        let error = #expect(throws: SSLError.self) { _ = try Devices.backend(for: text) }
        #expect(error?.description.contains(DeviceSpec.help) == true, "\(error?.description ?? "")")
    }

    @Test("a device index that does not exist is an error listing the devices", .enabled(if: TestBackends.hasOpenCL))
    func missingIndex() {
        let error = #expect(throws: SSLError.self) { _ = try Devices.backend(for: "opencl:9:9") }
        #expect(error?.description.contains("no such OpenCL device") == true, "\(error?.description ?? "")")
    }

    @Test("reference is always available")
    func reference() throws {
        #expect(try Devices.backend(for: "reference").kind == .reference)
    }

    @Test("auto picks OpenCL when a device exists", .enabled(if: TestBackends.hasOpenCL))
    func autoPicksOpenCL() throws {
        #expect(try Devices.backend(for: "auto").kind == .openCL)
    }

    @Test("a kernel that fails to build carries the build log", .enabled(if: TestBackends.hasOpenCL))
    func buildFailure() throws {
        let cl = TestBackends.openCL!
        let source = "__kernel void broken(__global float* x) { x[0] = undefined_name; }"
        let error = #expect(throws: SSLError.self) { try cl.context.buildProgram(name: "broken", source: source) }
        guard case .buildFailed(let program, _, let log)? = error else {
            Issue.record("expected buildFailed, got \(String(describing: error))")
            return
        }
        #expect(program == "broken")
        #expect(log.contains("undefined_name"), "build log: \(log)")
    }

    @Test("a buffer above the device's limit is an error with both byte counts", .enabled(if: TestBackends.hasOpenCL))
    func allocationTooLarge() throws {
        let cl = TestBackends.openCL!
        let elements = cl.device.maxAllocationBytes / 4 + 1
        let error = #expect(throws: SSLError.self) { _ = try cl.zeros([elements]) }
        #expect(error == .allocationTooLarge(bytes: elements * 4, limit: cl.device.maxAllocationBytes, device: cl.device.name))
    }

    @Test("status codes have their header names")
    func statusNames() {
        #expect(CLStatus.name(-30) == "CL_INVALID_VALUE")
        #expect(CLStatus.name(-1001) == "CL_PLATFORM_NOT_FOUND_KHR")
        #expect(CLStatus.name(-9999) == "CL_UNKNOWN_STATUS")
        #expect(CLStatus.clblastName(-1017) == "CLBlastInvalidDimension")
        #expect(SSLError.openCL(call: "clFinish", status: -36).description == "clFinish failed: CL_INVALID_COMMAND_QUEUE (-36)")
    }
}

@Suite struct ProgramCacheTests {
    @Test("program binaries persist on disk; a corrupt entry, or another program's, is rebuilt, not fatal", .enabled(if: TestBackends.hasOpenCL))
    func corruptEntryIsRebuilt() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kcache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let device = TestBackends.openCL!.device
        let input: [Float] = [1, 2, 3, 4, 5, 6]
        func softmaxRow() throws -> [Float] {
            let backend = OpenCLBackend(context: try OpenCLContext(device: device, kernelCache: folder))
            return try backend.download(try backend.softmax(try backend.upload(input, shape: [2, 3])))
        }
        let first = try softmaxRow()
        let entries = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".bin") }
        #expect(entries.count == 1 && entries[0].hasPrefix("softmax-"), "\(entries)")
        let entry = folder.appendingPathComponent(entries[0])
        let original = try Data(contentsOf: entry)
        #expect(ProgramCache.payload(ofEntry: [UInt8](original)) != nil)

        #expect(try softmaxRow() == first)  // loaded from the cache
        for corruption in [Data("garbage".utf8), original.prefix(original.count / 2), original.prefix(16) + Data(count: 64)] {
            try corruption.write(to: entry)
            #expect(ProgramCache.payload(ofEntry: [UInt8](corruption)) == nil)
            #expect(try softmaxRow() == first)
            // Rebuilt and stored again: a valid entry (drivers need not produce identical bytes).
            #expect(ProgramCache.payload(ofEntry: [UInt8](try Data(contentsOf: entry))) != nil, "entry was not rewritten")
        }

        // A valid entry of another program under softmax's name: its kernels are missing
        // (CL_INVALID_KERNEL_NAME), so softmax is built from source and the entry replaced.
        let backend = OpenCLBackend(context: try OpenCLContext(device: device, kernelCache: folder))
        _ = try backend.download(try backend.relu(try backend.upload(input, shape: [6])))
        let other = try #require(try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .first { $0.hasSuffix(".bin") && !$0.hasPrefix("softmax-") }, "a second program's entry")
        let foreign = try Data(contentsOf: folder.appendingPathComponent(other))
        try foreign.write(to: entry)
        #expect(try softmaxRow() == first)
        #expect(try Data(contentsOf: entry) != foreign, "the foreign entry was replaced")
        #expect(try softmaxRow() == first)
    }
}
