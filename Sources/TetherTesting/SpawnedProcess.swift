import Foundation
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// A daemon a test starts and ends: posix_spawn, output appended to a log file, its exit seen by
/// waitpid on its own PID. Not Foundation's Process: with many processes spawned and reaped
/// concurrently, its exit monitoring missed a tetherd's exit and waitUntilExit spun forever.
public final class SpawnedProcess: @unchecked Sendable {
    public let pid: pid_t
    private let lock = NSLock()
    private var status: Int32?

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], logPath: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else {
            throw TetherError(.internalError, "cannot start \(executable): \(String(cString: strerror(spawned)))")
        }
        self.pid = pid
    }

    public var isRunning: Bool { reap(blocking: false) == nil }

    /// The exit status (128 + signal when killed); waits for it.
    @discardableResult
    public func wait() -> Int32 { reap(blocking: true) ?? -1 }

    public var terminationStatus: Int32 { reap(blocking: false) ?? -1 }

    private func reap(blocking: Bool) -> Int32? {
        lock.withLock {
            if let status { return status }
            var raw: Int32 = 0
            var result: pid_t
            repeat {
                result = waitpid(pid, &raw, blocking ? 0 : WNOHANG)
            } while result < 0 && errno == EINTR
            guard result == pid else { return result < 0 ? -1 : nil }
            let code = raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
            status = code
            return code
        }
    }
}
