import Foundation
import TetherCore

/// A `Host` for tests: files live in memory, commands answer from a script, the clock is real
/// unless a test gives one.
public final class FakeHost: TetherCore.Host, @unchecked Sendable {
    private let lock = NSLock()
    private var files: [String: (contents: [UInt8], mode: UInt32)] = [:]
    private var scripts: [String: CommandResult] = [:]
    private var commands: [Command] = []
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

    public func run(_ command: Command) async throws -> CommandResult {
        try lock.withLock {
            commands.append(command)
            guard let result = scripts[command.executable] ?? scripts[(command.executable as NSString).lastPathComponent] else {
                throw TetherError(.hostCommandFailed, "FakeHost has no script for \(command.executable)")
            }
            return result
        }
    }

    public func read(_ path: String) async throws -> String {
        try lock.withLock {
            guard let file = files[path] else { throw TetherError(.notFound, "cannot read \(path)") }
            return String(decoding: file.contents, as: UTF8.self)
        }
    }

    public func writeFile(_ path: String, contents: [UInt8], mode: UInt32) async throws {
        lock.withLock { files[path] = (contents, mode) }
    }

    public func removeFile(_ path: String) async throws {
        _ = lock.withLock { files.removeValue(forKey: path) }
    }

    public func fileExists(_ path: String) async -> Bool {
        lock.withLock { files[path] != nil }
    }

    public func fileSize(_ path: String) async throws -> UInt64? {
        lock.withLock { files[path].map { UInt64($0.contents.count) } }
    }

    public func createSparseFile(_ path: String, size: UInt64, mode: UInt32) async throws {
        try lock.withLock {
            guard files[path] == nil else { throw TetherError(.conflict, "\(path) exists") }
            files[path] = ([UInt8](repeating: 0, count: Int(size)), mode)
        }
    }
}
