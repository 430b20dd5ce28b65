import Foundation
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// The real machine. The only code in Tether that runs programs and touches files directly.
public struct LinuxHost: TetherCore.Host {
    public init() {}

    public var clock: any Clock<Duration> { ContinuousClock() }

    public func run(_ command: Command) async throws -> CommandResult {
        let exit = try await ChildProcess.run(command)
        return CommandResult(exitCode: exit.status, stdout: exit.stdout, stderr: exit.stderr)
    }

    public func read(_ path: String) async throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TetherError(.notFound, "cannot read \(path)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    public func writeFile(_ path: String, contents: [UInt8], mode: UInt32) async throws {
        try Self.writeFileAtomically(path, contents: contents, mode: mode)
    }

    /// Writes through a temp file created with `mode` (never wider, whatever the umask), fsyncs,
    /// and renames over `path`, so readers see the old file or the new one, never a part.
    public static func writeFileAtomically(_ path: String, contents: [UInt8], mode: UInt32) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else {
            throw TetherError(.hostCommandFailed, "cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        fchmod(fd, mode_t(mode))
        var offset = 0
        while offset < contents.count {
            let written = contents[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else {
                close(fd)
                unlink(temporary)
                throw TetherError(.hostCommandFailed, "cannot write \(temporary): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        fsync(fd)
        close(fd)
        guard Glibc.rename(temporary, path) == 0 else {
            unlink(temporary)
            throw TetherError(.hostCommandFailed, "cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))")
        }
    }

    public func removeFile(_ path: String) async throws {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw TetherError(.hostCommandFailed, "cannot remove \(path): \(String(cString: strerror(errno)))")
        }
    }

    public func fileExists(_ path: String) async -> Bool {
        access(path, F_OK) == 0
    }

    public func createDirectory(_ path: String, mode: UInt32) async throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: mode])
        } catch {
            throw TetherError(.hostCommandFailed, "cannot create the directory \(path): \(error.localizedDescription)", cause: error)
        }
    }

    public func setMode(_ path: String, _ mode: UInt32) async throws {
        guard chmod(path, mode_t(mode)) == 0 else {
            throw TetherError(.hostCommandFailed, "cannot chmod \(String(mode, radix: 8)) \(path): \(String(cString: strerror(errno)))")
        }
    }

    public func setGroup(_ path: String, _ group: UInt32) async throws {
        guard chown(path, uid_t.max, gid_t(group)) == 0 else {
            throw TetherError(.hostCommandFailed, "cannot give group \(group) to \(path): \(String(cString: strerror(errno)))")
        }
    }

    public func rename(_ from: String, to: String) async throws {
        guard Glibc.rename(from, to) == 0 else {
            throw TetherError(.hostCommandFailed, "cannot rename \(from) to \(to): \(String(cString: strerror(errno)))")
        }
    }

    public func removeDirectory(_ path: String) async throws {
        guard rmdir(path) == 0 || errno == ENOENT else {
            throw TetherError(.hostCommandFailed, "cannot remove the directory \(path): \(String(cString: strerror(errno)))")
        }
    }

    public func socketAnswers(_ path: String) async -> Bool {
        UnixSocket.answers(path)
    }

    public func lockExclusively(_ path: String) async throws -> any HostFileLock {
        try FlockedFile(path)
    }

    public func fileSize(_ path: String) async throws -> UInt64? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw TetherError(.hostCommandFailed, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        // lseek to the end answers for regular files and block devices alike.
        let end = lseek(fd, 0, SEEK_END)
        guard end >= 0 else {
            throw TetherError(.hostCommandFailed, "cannot size \(path): \(String(cString: strerror(errno)))")
        }
        return UInt64(end)
    }

    public func createSparseFile(_ path: String, size: UInt64, mode: UInt32) async throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else {
            throw TetherError(.hostCommandFailed, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        // off_t(exactly:): a size beyond off_t is refused, not trapped on, and the file goes.
        guard let length = off_t(exactly: size), ftruncate(fd, length) == 0 else {
            let reason = off_t(exactly: size) == nil ? "larger than off_t" : String(cString: strerror(errno))
            unlink(path)
            throw TetherError(.hostCommandFailed, "cannot size \(path) to \(size) bytes: \(reason)")
        }
    }

    public func writeAttribute(_ path: String, _ value: String) async throws {
        // A sysfs write can block for as long as the kernel works on it (an rbd map waits for the
        // monitors): on its own thread, never on a Swift concurrency thread.
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let thread = Thread {
                continuation.resume(with: Result { try Self.writeAttributeNow(path, value) })
            }
            thread.name = "tether-sysfs"
            thread.start()
        }
    }

    static func writeAttributeNow(_ path: String, _ value: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw TetherError(
                .hostCommandFailed, "cannot open \(path): \(String(cString: strerror(code)))", cause: POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO))
        }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        var written: Int
        repeat {
            written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        } while written < 0 && errno == EINTR
        guard written == bytes.count else {
            // The kernel's answer is in errno (EINVAL for a bad rbd option string, EEXIST ...).
            let code = written < 0 ? errno : EIO
            throw TetherError(
                .hostCommandFailed, "the kernel refused the write to \(path): \(String(cString: strerror(code)))",
                cause: POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO))
        }
    }

    public func listDirectory(_ path: String) async throws -> [String] {
        guard let directory = opendir(path) else {
            if errno == ENOENT || errno == ENOTDIR { return [] }
            throw TetherError(.hostCommandFailed, "cannot list \(path): \(String(cString: strerror(errno)))")
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public func resolvePath(_ path: String) async -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The corresponding C function is `stat`.
    public func fileKind(_ path: String) async throws -> FileKind? {
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw TetherError(.hostCommandFailed, "cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        switch status.st_mode & mode_t(S_IFMT) {
        case mode_t(S_IFREG): return .regular
        case mode_t(S_IFBLK): return .blockDevice
        case mode_t(S_IFDIR): return .directory
        case mode_t(S_IFCHR): return .characterDevice
        case mode_t(S_IFIFO): return .fifo
        case mode_t(S_IFSOCK): return .socket
        default: return .other
        }
    }

    /// The corresponding C function is `stat`.
    public func fileStatus(_ path: String) async throws -> FileStatus? {
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw TetherError(.hostCommandFailed, "cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        guard let kind = try await fileKind(path) else { return nil }
        return FileStatus(kind: kind, mode: UInt32(status.st_mode) & 0o7777, owner: UInt32(status.st_uid), group: UInt32(status.st_gid))
    }

    public func deviceEvents(subsystems: [String]) async throws -> AsyncStream<DeviceEvent> {
        try UDevMonitor(subsystems: subsystems).stream()
    }
}

/// An open file with an exclusive flock on it.
final class FlockedFile: HostFileLock {
    let descriptor: Int32

    init(_ path: String) throws {
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw TetherError(.hostCommandFailed, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw TetherError(.conflict, "\(path) is locked by another process")
        }
    }

    func release() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
