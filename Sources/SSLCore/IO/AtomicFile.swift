// Atomic file writes: a reader sees the old file or the whole new one, never a torn one.
import Foundation
import Synchronization

public enum AtomicFile {
    /// Writes `data` to a temporary file beside `url`, flushes it to disk, then renames it over `url`.
    /// Creates the parent folder when missing. Only regular files are replaced so: a symbolic link
    /// is written through (its target replaced, the link kept), an existing device node or FIFO
    /// (`/dev/null`, `/dev/stdout`) is written directly, and a folder is refused.
    /// - Throws: ``SSLError/file(path:reason:)`` naming `url`'s path and what failed, in words.
    public static func write(_ data: Data, to given: URL) throws {
        let url = given.resolvingSymlinksInPath()
        var status = stat()
        if stat(url.path, &status) == 0 {
            switch status.st_mode & S_IFMT {
            case S_IFREG: break
            case S_IFDIR: throw SSLError.file(path: given.path, reason: "is a folder; give a file name")
            default: return try writeDirectly(data, to: url, named: given.path)
            }
        }
        let folder = url.deletingLastPathComponent()
        if let reason = makeFolders(folder.path) {
            throw SSLError.file(path: given.path, reason: "cannot create its folder \(folder.path): \(reason)")
        }
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else {
            throw SSLError.file(path: given.path, reason: "cannot write in \(folder.path): \(String(cString: strerror(errno)))")
        }
        var ok = writeAll(data, to: fd)
        ok = ok && fsync(fd) == 0
        let writeErrno = errno
        close(fd)
        if ok { killIfTestAsks(writing: url) }
        guard ok, rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(ok ? errno : writeErrno))
            unlink(temporary.path)
            throw SSLError.file(path: given.path, reason: "cannot write: " + reason)
        }
    }

    /// A device node or FIFO: opened and written as it is; there is no file to replace.
    private static func writeDirectly(_ data: Data, to url: URL, named path: String) throws {
        let fd = open(url.path, O_WRONLY)
        guard fd >= 0 else { throw SSLError.file(path: path, reason: "cannot write: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard writeAll(data, to: fd) else { throw SSLError.file(path: path, reason: "cannot write: \(String(cString: strerror(errno)))") }
    }

    private static func writeAll(_ data: Data, to fd: Int32) -> Bool {
        data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
    }

    /// Creates the folder `path` and those above it where missing.
    /// - Throws: ``SSLError/file(path:reason:)`` naming `path` and why, in words ("Not a directory").
    public static func createFolders(_ path: String) throws {
        if let reason = makeFolders(path) { throw SSLError.file(path: path, reason: "cannot create the folder: \(reason)") }
    }

    /// `mkdir -p`: nil, or why a folder on the way could not be made, in words ("Not a directory").
    /// (Foundation's createDirectory reports "NSCocoaErrorDomain error 512" on Linux.)
    private static func makeFolders(_ path: String) -> String? {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { return String(cString: strerror(errno)) }
        }
        var status = stat()
        guard stat(path, &status) == 0 else { return String(cString: strerror(errno)) }
        return status.st_mode & S_IFMT == S_IFDIR ? nil : String(cString: strerror(ENOTDIR))
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
