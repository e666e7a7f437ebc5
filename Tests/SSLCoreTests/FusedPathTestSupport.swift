// Helpers of the tests of the paths that avoid large intermediates (the Gram form of Barlow
// Twins and VICReg, fused NT-Xent) and of the fallbacks for small devices: an OpenCL backend
// whose device reports smaller limits than it has.
@testable import SSLCore

extension TestBackends {
    /// A fresh OpenCL backend on the test device that plans for smaller limits: every buffer must
    /// stay below `maxAllocationBytes` (an op that allocates more throws
    /// ``SSLError/allocationTooLarge``); `localMemoryBytes` and `maxWorkGroupSize`, when given,
    /// are what every launch is sized for and checked against (OpenCLContext.launch).
    /// One compute unit, so that work split by device size is split the same everywhere.
    static func openCL(maxAllocationBytes: Int = .max, localMemoryBytes: Int? = nil,
                       maxWorkGroupSize: Int? = nil) throws -> OpenCLBackend? {
        guard let device = openCL?.device else { return nil }
        let capped = OpenCLDeviceInfo(
            platformIndex: device.platformIndex, deviceIndex: device.deviceIndex, platformName: device.platformName,
            name: device.name, vendor: device.vendor, driverVersion: device.driverVersion, version: device.version,
            kind: device.kind, globalMemoryBytes: device.globalMemoryBytes,
            maxAllocationBytes: min(maxAllocationBytes, device.maxAllocationBytes),
            localMemoryBytes: min(localMemoryBytes ?? .max, device.localMemoryBytes), computeUnits: 1,
            maxWorkGroupSize: min(maxWorkGroupSize ?? .max, device.maxWorkGroupSize),
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
