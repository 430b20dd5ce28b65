/// Everything Tether does to the machine. Nothing else touches it.
///
/// `LinuxHost` (TetherLinux) is the real one; `FakeHost` (TetherTesting) scripts results, keeps
/// files in a temp tree and can run a test clock.
public protocol Host: Sendable {
    /// Runs a program. Secrets go on `stdin`, never in `arguments`.
    func run(_ command: Command) async throws -> CommandResult
    /// Reads a small text file (sysfs, /dev/disk/by-*, config).
    func read(_ path: String) async throws -> String
    /// Writes `contents` atomically to `path` with `mode` (0600 for anything secret).
    func writeFile(_ path: String, contents: [UInt8], mode: UInt32) async throws
    /// Removes a file; no error if it is already gone.
    func removeFile(_ path: String) async throws
    func fileExists(_ path: String) async -> Bool
    /// The size of a file or block device, nil when it does not exist.
    func fileSize(_ path: String) async throws -> UInt64?
    /// Creates a sparse file of `size` bytes with `mode`; fails if it exists.
    func createSparseFile(_ path: String, size: UInt64, mode: UInt32) async throws
    /// Writes `value` to an existing kernel attribute (sysfs) in one write(2), in place: sysfs
    /// files act on each write and cannot be replaced by a rename.
    func writeAttribute(_ path: String, _ value: String) async throws
    /// The names in a directory, sorted; empty when it does not exist.
    func listDirectory(_ path: String) async throws -> [String]
    /// The canonical path `path` resolves to (symlinks followed), nil when it does not exist.
    func resolvePath(_ path: String) async -> String?
    /// What `path` is (symlinks followed), nil when it does not exist.
    func fileKind(_ path: String) async throws -> FileKind?
    /// Kind, permission bits and owners of `path` (symlinks followed), nil when it does not exist.
    func fileStatus(_ path: String) async throws -> FileStatus?
    /// Starts listening for processed udev events of `subsystems` at once; events that happen
    /// after this returns are delivered. The stream ends when the caller stops iterating.
    func deviceEvents(subsystems: [String]) async throws -> AsyncStream<DeviceEvent>
    /// Creates a directory and any missing parents with `mode`; one that exists is left as it is
    /// (`setMode` changes it: never implied, /tmp is someone's parent directory too).
    func createDirectory(_ path: String, mode: UInt32) async throws
    /// Sets the permission bits of an existing file or directory.
    func setMode(_ path: String, _ mode: UInt32) async throws
    /// Gives `path` the group `group`, its owner unchanged.
    func setGroup(_ path: String, _ group: UInt32) async throws
    /// Renames `from` to `to` in one rename(2) (a bound socket keeps working).
    func rename(_ from: String, to: String) async throws
    /// Removes an empty directory; no error if it is already gone.
    func removeDirectory(_ path: String) async throws
    /// Whether something accepts connections on the unix socket at `path`.
    func socketAnswers(_ path: String) async -> Bool
    /// Takes an exclusive lock (flock) on `path`, creating it 0600, held until `release()`.
    /// - Throws: `conflict` at once when another process holds it.
    func lockExclusively(_ path: String) async throws -> any HostFileLock
    /// The clock every wait and timeout uses.
    var clock: any Clock<Duration> { get }
}

/// A lock `Host.lockExclusively` took; released explicitly, or when the process ends.
public protocol HostFileLock: Sendable {
    func release()
}

/// One udev event, after udevd ran its rules (so stable names exist when it arrives).
public struct DeviceEvent: Sendable, Hashable {
    public var action: String
    public var subsystem: String
    /// The sysfs path, e.g. /sys/devices/platform/host2/session1/target2:0:0/2:0:0:1/block/sdb.
    public var sysPath: String
    /// The /dev node, when the device has one.
    public var deviceNode: String?
    public var properties: [String: String]

    public init(action: String, subsystem: String, sysPath: String, deviceNode: String? = nil, properties: [String: String] = [:]) {
        self.action = action
        self.subsystem = subsystem
        self.sysPath = sysPath
        self.deviceNode = deviceNode
        self.properties = properties
    }
}

/// A program to run, with a deadline.
public struct Command: Sendable, Hashable, CustomStringConvertible {
    public var executable: String
    public var arguments: [String]
    /// Bytes for the program's standard input; for secrets.
    public var stdin: [UInt8]?
    public var environment: [String: String]
    public var timeout: Duration

    public init(_ executable: String, _ arguments: [String] = [], stdin: [UInt8]? = nil, environment: [String: String] = [:], timeout: Duration = .seconds(30)) {
        self.executable = executable
        self.arguments = arguments
        self.stdin = stdin
        self.environment = environment
        self.timeout = timeout
    }

    /// The command line; safe to log because secrets never go on it.
    public var description: String { ([executable] + arguments).joined(separator: " ") }
}

public struct CommandResult: Sendable, Hashable {
    public var exitCode: Int32
    public var stdout: String
    public var stderr: String

    public init(exitCode: Int32, stdout: String = "", stderr: String = "") {
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
    }

    public var succeeded: Bool { exitCode == 0 }
}

extension Host {
    /// Removes an attachment's secret files; those already gone are fine.
    public func removeSecretFiles(of volume: AttachedVolume) async throws {
        for file in volume.secretFiles {
            try await removeFile(file)
        }
    }

    /// Runs `command` and throws `host.command_failed` on a non-zero exit.
    @discardableResult
    public func check(_ command: Command) async throws -> CommandResult {
        let result = try await run(command)
        guard result.succeeded else {
            throw TetherError(.hostCommandFailed, "\(command.executable) exited \(result.exitCode): \(result.stderr.trimmingWhitespace())")
        }
        return result
    }
}
