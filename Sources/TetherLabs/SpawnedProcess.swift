import Foundation
import TetherCore
import TetherLinux

#if canImport(Glibc)
import Glibc
#endif

/// A daemon a test starts and ends: started by ChildProcess, output appended to a log file, its
/// exit seen by waitpid on its own PID. Not Foundation's Process: with many processes spawned and reaped
/// concurrently, its exit monitoring missed a tetherd's exit and waitUntilExit spun forever.
public final class SpawnedProcess: @unchecked Sendable {
    public let pid: pid_t
    private let lock = NSLock()
    private var status: Int32?

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], logPath: String) throws {
        let started = try ChildProcess.start(executable, arguments, environment: environment, stdout: logPath, stderr: logPath, append: true)
        close(started.stdin)
        pid = started.pid
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
