import Foundation
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// Runs programs with posix_spawn and waitpid; output goes to files in a private 0700 directory.
///
/// Not Foundation's Process with pipes: a program that starts a daemon (iscsiadm starts iscsid,
/// ceph scripts leave daemons) hands it the pipe, and reading to end-of-file then never ends.
public enum ChildProcess {
    public struct Exit: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `executable` to completion on the calling thread; kills its process group after `timeout`.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        stdin: [UInt8]? = nil,
        timeout: Duration? = nil
    ) throws -> Exit {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let (pid, input) = try start(executable, arguments, environment: environment, stdout: scratch.path + "/out", stderr: scratch.path + "/err")
        feed(input, with: stdin)
        let killer = timeout.map { KillTimer(pid: pid, after: $0) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let timedOut = killer?.cancel() ?? false
        if timedOut {
            throw TetherError.timedOut("\(executable)", after: timeout ?? .zero)
        }
        return Exit(status: exitCode(status), stdout: scratch.read("out"), stderr: scratch.read("err"))
    }

    /// The same, without holding a Swift concurrency thread while the program runs.
    public static func run(
        _ command: Command
    ) async throws -> Exit {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result {
                    try run(command.executable, command.arguments, environment: command.environment, stdin: command.stdin, timeout: command.timeout)
                })
            }
            thread.name = "tether-child"
            thread.start()
        }
    }

    /// Starts `program` in its own process group with default SIGPIPE, output to the files
    /// (appended, or truncated first); answers its PID and the write end of its stdin, which the
    /// caller closes.
    public static func start(
        _ program: String, _ arguments: [String], environment: [String: String], stdout: String, stderr: String, append: Bool = false
    ) throws -> (pid: pid_t, stdin: Int32) {
        let executable = locate(program)
        var pipeEnds: [Int32] = [0, 0]
        // pipe2 is not in Glibc's Swift module; a spawn on another thread in between may inherit
        // the ends for its lifetime, which only delays that child's EOF on stdin.
        guard pipe(&pipeEnds) == 0, fcntl(pipeEnds[0], F_SETFD, FD_CLOEXEC) == 0, fcntl(pipeEnds[1], F_SETFD, FD_CLOEXEC) == 0 else {
            throw TetherError(.hostCommandFailed, "cannot create a pipe for \(program): \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[0], 0)
        let flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, flags, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, flags, 0o600)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Own process group, so a timeout kills what the program started too; default SIGPIPE,
        // which the agent ignores and a child would otherwise inherit.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        close(pipeEnds[0])
        guard spawned == 0 else {
            close(pipeEnds[1])
            throw TetherError(.hostCommandFailed, "cannot start \(executable): \(String(cString: strerror(spawned)))", hint: "install the package that provides \(program)")
        }
        return (pid, pipeEnds[1])
    }

    /// Writes `bytes` (a secret, at most) to the child's stdin on another thread, so a child that
    /// never reads cannot block the caller, then closes it.
    private static func feed(_ fd: Int32, with bytes: [UInt8]?) {
        guard let bytes, !bytes.isEmpty else {
            close(fd)
            return
        }
        Thread {
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { break }
                offset += written
            }
            close(fd)
        }.start()
    }

    private static func exitCode(_ status: Int32) -> Int32 {
        status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// `program` itself when it has a slash, else the first match on PATH.
    public static func locate(_ program: String) -> String {
        if program.contains("/") { return program }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in path.split(separator: ":") where access("\(directory)/\(program)", X_OK) == 0 {
            return "\(directory)/\(program)"
        }
        return program
    }
}

/// Kills a process group once a deadline passes, unless cancelled first.
private final class KillTimer: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    private var fired = false

    init(pid: pid_t, after limit: Duration) {
        let seconds = Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            lock.withLock {
                guard !done else { return }
                fired = true
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
            }
        }
    }

    /// Stops the timer; true when it had already killed the program.
    func cancel() -> Bool {
        lock.withLock {
            done = true
            return fired
        }
    }
}

/// A private 0700 directory for one program's output.
private struct ScratchDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/tether-run-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw TetherError(.hostCommandFailed, "cannot create a temp directory: \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
    }

    func read(_ name: String) -> String {
        (FileManager.default.contents(atPath: path + "/" + name)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
