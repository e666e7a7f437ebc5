// Timing one call: device time from profiling events on OpenCL, so that host overhead and
// queueing are not counted; wall-clock time on the reference backend, which has no device, and
// for workloads whose call includes host work and transfers (kNN).
import SSLCore

enum Stopwatch {
    case profilingEvents(OpenCLContext)
    case wallClock(any Backend)

    /// Profiling events on OpenCL unless `wallClock` asks for the host's clock.
    init(for backend: any Backend, wallClock: Bool = false) {
        if !wallClock, let openCL = backend as? OpenCLBackend {
            self = .profilingEvents(openCL.context)
        } else {
            self = .wallClock(backend)
        }
    }

    var clock: Measurement.Clock {
        switch self {
        case .profilingEvents: return .events
        case .wallClock: return .wall
        }
    }

    /// Seconds of `body`'s work, waiting for it to finish. On OpenCL: from the first recorded
    /// command's start to the last one's end (a marker opens CLBlast calls, whose returned event
    /// covers only their last kernel).
    func time(_ body: () throws -> Void) throws -> Double {
        switch self {
        case .profilingEvents(let context):
            context.beginTiming()
            try body()
            return try context.endTiming()
        case .wallClock(let backend):
            let wall = try ContinuousClock().measure {
                try body()
                try backend.synchronize()
            }
            return Double(wall.components.seconds) + Double(wall.components.attoseconds) * 1e-18
        }
    }
}
