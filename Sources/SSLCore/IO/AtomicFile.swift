// Atomic file writes: a reader sees the old file or the whole new one, never a torn one.
import Foundation
import Synchronization

public enum AtomicFile {
    /// Writes `data` to a temporary file beside `url`, flushes it to disk, then renames it over `url`.
    /// Creates the parent folder when missing.
    public static func write(_ data: Data, to url: URL) throws {
        let folder = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else {
            throw SSLError.file(path: temporary.path, reason: String(cString: strerror(errno)))
        }
        var ok = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
        ok = ok && fsync(fd) == 0
        let writeErrno = errno
        close(fd)
        if ok { killIfTestAsks(writing: url) }
        guard ok, rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(ok ? errno : writeErrno))
            unlink(temporary.path)
            throw SSLError.file(path: url.path, reason: "cannot write: " + reason)
        }
    }

    /// Removes the temporary files that writes of `url` left when their process was killed
    /// between write and rename (named `.NAME.PID.RANDOM.tmp`, PID no longer running); those of
    /// live processes stay.
    public static func removeAbandonedTemporaries(of url: URL) {
        let folder = url.deletingLastPathComponent(), prefix = ".\(url.lastPathComponent)."
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(".tmp") {
            let fields = name.dropFirst(prefix.count).split(separator: ".")
            guard fields.count == 3, let pid = pid_t(fields[0]), kill(pid, 0) != 0 && errno == ESRCH else { continue }
            unlink(folder.appendingPathComponent(name).path)
        }
    }

    /// The kill test's hook (TrainCLITests): `SSL_TEST_KILL_BEFORE_RENAME=NAME:N` makes the process
    /// kill itself (SIGKILL) at its N-th write of a file named NAME, after the temporary file is
    /// written and flushed and before the rename: the one moment a kill leaves a write half done.
    private static let killBeforeRename: (name: String, write: Int)? = {
        guard let spec = ProcessInfo.processInfo.environment["SSL_TEST_KILL_BEFORE_RENAME"],
              let colon = spec.lastIndex(of: ":"), let n = Int(spec[spec.index(after: colon)...]) else { return nil }
        return (String(spec[..<colon]), n)
    }()

    private static let writes = Mutex<[String: Int]>([:])

    private static func killIfTestAsks(writing url: URL) {
        guard let hook = killBeforeRename, hook.name == url.lastPathComponent else { return }
        let count = writes.withLock { counts in
            counts[hook.name, default: 0] += 1
            return counts[hook.name]!
        }
        if count == hook.write { kill(getpid(), SIGKILL) }
    }
}
