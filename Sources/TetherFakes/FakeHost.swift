import Foundation
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// A `Host` for tests: files live in memory, commands answer from a script, the clock is real
/// unless a test gives one.
public final class FakeHost: TetherCore.Host, @unchecked Sendable {
    private let lock = NSLock()
    private var files: [String: (contents: [UInt8], mode: UInt32)] = [:]
    private var scripts: [String: CommandResult] = [:]
    private var commands: [Command] = []
    private var runHandler: (@Sendable (Command) -> CommandResult)?
    private var links: [String: String] = [:]
    private var directories: Set<String> = []
    private var modes: [String: UInt32] = [:]
    private var locked: Set<String> = []
    private var attributeWrites: [(path: String, value: String)] = []
    private var attributeHandlers: [String: @Sendable (String) throws -> Void] = [:]
    private var statuses: [String: FileStatus] = [:]
    private var listeners: [UUID: (subsystems: [String], continuation: AsyncStream<DeviceEvent>.Continuation)] = [:]
    public let clock: any Clock<Duration>

    public init(clock: any Clock<Duration> = ContinuousClock()) {
        self.clock = clock
    }

    /// Makes `executable` answer with `exit` and output from now on.
    public func script(_ executable: String, exit: Int32, stdout: String = "", stderr: String = "") {
        lock.withLock { scripts[executable] = CommandResult(exitCode: exit, stdout: stdout, stderr: stderr) }
    }

    public var ranCommands: [Command] { lock.withLock { commands } }

    public func file(_ path: String) -> (contents: [UInt8], mode: UInt32)? {
        lock.withLock { files[path] }
    }

    public var filePaths: [String] { lock.withLock { Array(files.keys).sorted() } }

    /// Answers every command with `handler` from now on, per argument list (a simulated iscsiadm,
    /// multipathd ...); it runs outside FakeHost's lock, so it may set files and emit events.
    public func onRun(_ handler: @escaping @Sendable (Command) -> CommandResult) {
        lock.withLock { runHandler = handler }
    }

    public func run(_ command: Command) async throws -> CommandResult {
        let handler = lock.withLock { () -> (@Sendable (Command) -> CommandResult)? in
            commands.append(command)
            return runHandler
        }
        if let handler { return handler(command) }
        return try lock.withLock {
            guard let result = scripts[command.executable] ?? scripts[(command.executable as NSString).lastPathComponent] else {
                throw TetherError(.hostCommandFailed, "FakeHost has no script for \(command.executable)")
            }
            return result
        }
    }

    public func read(_ path: String) async throws -> String {
        try lock.withLock {
            guard let file = files[path] ?? files[follow(path)] else { throw TetherError(.notFound, "cannot read \(path)") }
            return String(decoding: file.contents, as: UTF8.self)
        }
    }

    public func writeFile(_ path: String, contents: [UInt8], mode: UInt32) async throws {
        lock.withLock { files[path] = (contents, mode) }
    }

    public func createDirectory(_ path: String, mode: UInt32) async throws {
        lock.withLock {
            if directories.insert(path).inserted { modes[path] = mode }
        }
    }

    public func setMode(_ path: String, _ mode: UInt32) async throws {
        try lock.withLock {
            if let file = files[path] {
                files[path] = (file.contents, mode)
            } else if directories.contains(path) {
                modes[path] = mode
            } else {
                throw TetherError(.hostCommandFailed, "cannot chmod \(path): no such file")
            }
        }
    }

    /// The mode `createDirectory` or `setMode` gave a directory.
    public func directoryMode(_ path: String) -> UInt32? { lock.withLock { modes[path] } }

    public func setGroup(_ path: String, _ group: UInt32) async throws {
        guard let status = try await fileStatus(path) else { throw TetherError(.hostCommandFailed, "cannot chown \(path): no such file") }
        lock.withLock { statuses[path] = FileStatus(kind: status.kind, mode: status.mode, owner: status.owner, group: group) }
    }

    public func rename(_ from: String, to: String) async throws {
        try lock.withLock {
            guard let file = files.removeValue(forKey: from) else { throw TetherError(.hostCommandFailed, "cannot rename \(from): no such file") }
            files[to] = file
            if let status = statuses.removeValue(forKey: from) { statuses[to] = status }
        }
    }

    public func removeDirectory(_ path: String) async throws {
        _ = lock.withLock { directories.remove(path) }
    }

    /// FakeHost serves no socket.
    public func socketAnswers(_ path: String) async -> Bool { false }

    public func lockExclusively(_ path: String) async throws -> any HostFileLock {
        try lock.withLock {
            guard locked.insert(path).inserted else { throw TetherError(.conflict, "\(path) is locked by another process") }
        }
        return FakeFileLock { [self] in _ = lock.withLock { locked.remove(path) } }
    }

    public func removeFile(_ path: String) async throws {
        lock.withLock {
            files.removeValue(forKey: path)
            statuses.removeValue(forKey: path)
        }
    }

    public func fileExists(_ path: String) async -> Bool {
        lock.withLock { files[path] != nil || files[follow(path)] != nil || directories.contains(follow(path)) }
    }

    public func fileSize(_ path: String) async throws -> UInt64? {
        lock.withLock { files[path].map { UInt64($0.contents.count) } }
    }

    public func createSparseFile(_ path: String, size: UInt64, mode: UInt32) async throws {
        try lock.withLock {
            guard files[path] == nil else { throw TetherError(.conflict, "\(path) exists") }
            // The fake keeps the bytes in memory: a size it cannot hold is a failure, not a trap.
            guard let count = Int(exactly: size), count <= 1 << 30 else {
                throw TetherError(.hostCommandFailed, "cannot size \(path) to \(size) bytes in a FakeHost")
            }
            files[path] = ([UInt8](repeating: 0, count: count), mode)
        }
    }

    public func fileKind(_ path: String) async throws -> FileKind? {
        lock.withLock {
            let resolved = follow(path)
            if files[path] != nil || files[resolved] != nil { return .regular }
            let prefix = resolved + "/"
            if directories.contains(resolved) || files.keys.contains(where: { $0.hasPrefix(prefix) }) { return .directory }
            return nil
        }
    }

    /// What `fileStatus` answers for `path`: a file's own mode, owner root and group 0 unless
    /// `setStatus` said otherwise; directories 0755.
    public func fileStatus(_ path: String) async throws -> FileStatus? {
        let given = lock.withLock { statuses[path] ?? statuses[follow(path)] }
        if let given { return given }
        guard let kind = try await fileKind(path) else { return nil }
        let mode = lock.withLock { files[path]?.mode ?? files[follow(path)]?.mode } ?? 0o755
        return FileStatus(kind: kind, mode: mode)
    }

    /// Makes `fileStatus(path)` answer `status` (a socket, a group, another owner).
    public func setStatus(_ path: String, _ status: FileStatus) {
        lock.withLock { statuses[path] = status }
    }

    // MARK: A simulated sysfs and udev

    /// Puts a file at `path` (a sysfs attribute, say) and makes its parent directories exist.
    public func setFile(_ path: String, _ contents: String, mode: UInt32 = 0o644) {
        lock.withLock { files[path] = (Array(contents.utf8), mode) }
    }

    public func makeDirectory(_ path: String) {
        _ = lock.withLock { directories.insert(path) }
    }

    /// Makes `path` resolve to `target` (sysfs symlinks such as /sys/block/sdb).
    public func link(_ path: String, to target: String) {
        lock.withLock { links[path] = target }
    }

    /// Removes everything at or below `path`: files, directories and links.
    public func removeTree(_ path: String) {
        lock.withLock {
            let prefix = path.hasSuffix("/") ? path : path + "/"
            files = files.filter { $0.key != path && !$0.key.hasPrefix(prefix) }
            directories = directories.filter { $0 != path && !$0.hasPrefix(prefix) }
            links = links.filter { $0.key != path && !$0.key.hasPrefix(prefix) }
            statuses = statuses.filter { $0.key != path && !$0.key.hasPrefix(prefix) }
        }
    }

    /// Runs `handler` with the value whenever code writes to the attribute at `path`, as the
    /// kernel would act; a thrown error is what the write fails with.
    public func onAttributeWrite(_ path: String, _ handler: @escaping @Sendable (String) throws -> Void) {
        lock.withLock { attributeHandlers[path] = handler }
    }

    public var attributeWriteLog: [(path: String, value: String)] { lock.withLock { attributeWrites } }

    /// How many udev listeners are open: tests wait for a waiter to subscribe before acting.
    public var listenerCount: Int { lock.withLock { listeners.count } }

    /// Delivers `event` to every current listener of its subsystem.
    public func emit(_ event: DeviceEvent) {
        let targets = lock.withLock { listeners.values.filter { $0.subsystems.isEmpty || $0.subsystems.contains(event.subsystem) } }
        for target in targets { target.continuation.yield(event) }
    }

    public func writeAttribute(_ path: String, _ value: String) async throws {
        let handler = try lock.withLock {
            attributeWrites.append((path, value))
            guard let handler = attributeHandlers[path] else {
                guard files[path] != nil else { throw TetherError(.hostCommandFailed, "cannot open \(path): No such file or directory") }
                files[path] = (Array(value.utf8), files[path]?.mode ?? 0o644)
                return nil as (@Sendable (String) throws -> Void)?
            }
            return handler
        }
        try handler?(value)
    }

    public func listDirectory(_ path: String) async throws -> [String] {
        lock.withLock {
            let prefix = path.hasSuffix("/") ? path : path + "/"
            var names = Set<String>()
            for candidate in Array(files.keys) + Array(directories) + Array(links.keys) where candidate.hasPrefix(prefix) {
                if let first = candidate.dropFirst(prefix.count).split(separator: "/").first { names.insert(String(first)) }
            }
            return names.sorted()
        }
    }

    public func resolvePath(_ path: String) async -> String? {
        lock.withLock {
            let resolved = follow(path)
            let prefix = resolved + "/"
            let exists = files[resolved] != nil || directories.contains(resolved) || links[resolved] != nil
                || files.keys.contains { $0.hasPrefix(prefix) } || directories.contains { $0.hasPrefix(prefix) }
            return exists ? resolved : nil
        }
    }

    /// `path` with a linked prefix replaced by the link's target, as the kernel resolves
    /// /sys/block/sdb/device/...; the caller holds the lock.
    private func follow(_ path: String) -> String {
        for (link, target) in links.sorted(by: { $0.key.count > $1.key.count }) where path == link || path.hasPrefix(link + "/") {
            return target + path.dropFirst(link.count)
        }
        return path
    }

    public func deviceEvents(subsystems: [String]) async throws -> AsyncStream<DeviceEvent> {
        let (stream, continuation) = AsyncStream<DeviceEvent>.makeStream()
        let id = UUID()
        lock.withLock { listeners[id] = (subsystems, continuation) }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            _ = self.lock.withLock { self.listeners.removeValue(forKey: id) }
        }
        return stream
    }
}

/// FakeHost's lock: releasing lets the next `lockExclusively` of the path succeed.
struct FakeFileLock: HostFileLock {
    let onRelease: @Sendable () -> Void
    func release() { onRelease() }
}
