// Helpers of the tests of the loss paths that avoid their large intermediates (the Gram form of
// Barlow Twins and VICReg, fused NT-Xent): an OpenCL backend that refuses large buffers.
@testable import SSLCore

extension TestBackends {
    /// A fresh OpenCL backend on the test device whose every buffer must stay below
    /// `maxAllocationBytes`: an op that allocates more throws ``SSLError/allocationTooLarge``;
    /// with `localMemoryBytes`, the local memory the library plans for is that much.
    /// One compute unit, so that work split by device size is split the same everywhere.
    static func openCL(maxAllocationBytes: Int = .max, localMemoryBytes: Int? = nil) throws -> OpenCLBackend? {
        guard let device = openCL?.device else { return nil }
        let capped = OpenCLDeviceInfo(
            platformIndex: device.platformIndex, deviceIndex: device.deviceIndex, platformName: device.platformName,
            name: device.name, vendor: device.vendor, driverVersion: device.driverVersion, version: device.version,
            kind: device.kind, globalMemoryBytes: device.globalMemoryBytes,
            maxAllocationBytes: min(maxAllocationBytes, device.maxAllocationBytes),
            localMemoryBytes: localMemoryBytes ?? device.localMemoryBytes, computeUnits: 1, maxWorkGroupSize: device.maxWorkGroupSize,
            extensions: device.extensions, runsNativeKernels: device.runsNativeKernels,
            computeCapability: device.computeCapability, id: device.id)
        return try OpenCLBackend(device: capped)
    }
}

/// Whether `body` threw ``SSLError/allocationTooLarge``.
func throwsAllocationTooLarge(_ body: () throws -> Void) -> Bool {
    do { try body() } catch SSLError.allocationTooLarge { return true } catch { return false }
    return false
}
