import Foundation
import TetherCore
import TetherFakes

/// A real `tetherd` for an integration test: the built binary, its own config, state dir and
/// socket in a private temp dir, its log in a file the test can read.
public final class AgentProcess: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let initiator: String
    private var process: SpawnedProcess?
    /// Added to tetherd's environment (e.g. `NOTIFY_SOCKET`); a change counts from the next `start()`.
    public var environment: [String: String]
    /// A program and its arguments that run tetherd (`ip netns exec NS`, which execs it); none: run it directly.
    public let launcher: [String]
    /// tetherd's `--log-level` (the bench measures at info, as tetherd runs by default).
    public let logLevel: String

    public var socketPath: String { directory.file("t.sock") }
    public var stateDirectory: String { directory.file("state") }
    public var logPath: String { directory.file("agent.log") }
    public var configPath: String { directory.file("tether.toml") }
    public var pid: Int32 { process?.pid ?? 0 }

    /// Writes a config for `tgtd` and starts the agent; waits until its socket answers.
    /// - Parameters:
    ///   - libvirtURI: where the agent defines secrets; empty keeps it off this machine's libvirt.
    ///   - extraRoot: keys of the file's root table (`system_root = ...`).
    public init(
        tgtd: Tgtd?, initiator: String = "iqn.2026-11.io.tether.test:node1", extraRoot: String = "", extraISCSI: String = "", extraConfig: String = "",
        libvirtURI: String = "", environment: [String: String] = [:], launcher: [String] = [], logLevel: String = "debug"
    ) throws {
        directory = try TemporaryDirectory(prefix: "agt")
        self.environment = environment
        self.launcher = launcher
        self.logLevel = logLevel
        self.initiator = initiator
        var config = """
            socket = "\(directory.file("t.sock"))"
            state_dir = "\(directory.file("state"))"
            \(extraRoot)
            [iscsi]
            initiator = "\(initiator)"
            \(extraISCSI)

            """
        if let tgtd {
            config += """
                [target]
                portals = [\(tgtd.portals.map { "\"\($0)\"" }.joined(separator: ", "))]
                tgt_socket = "\(tgtd.socketBase)"
                tgt_control_port = \(tgtd.controlPort)
                backing_dirs = ["\(tgtd.directory.path)"]

                """
        }
        config += "\n" + extraConfig + "\n[libvirt]\nuri = \"\(libvirtURI)\"\n"
        try config.write(toFile: directory.file("tether.toml"), atomically: true, encoding: .utf8)
        try start()
    }

    /// The built tetherd beside the test binary (swift build puts all products in one directory).
    public static var binary: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("tetherd").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return "tetherd"
    }

    public func start() throws {
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let command = launcher + [Self.binary, "--config", configPath, "--log-level", logLevel]
        let process = try SpawnedProcess(command[0], Array(command.dropFirst()), environment: environment, logPath: logPath)
        self.process = process
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: socketPath), UnixSocket.answers(socketPath) { return }
            guard process.isRunning else {
                throw TetherError(.internalError, "tetherd exited with \(process.terminationStatus): \(self.log())")
            }
            usleep(20_000)
        }
        throw TetherError(.timedOut, "tetherd did not serve \(socketPath) within 20 s: \(self.log())")
    }

    /// SIGTERM, then waits; returns the exit status.
    @discardableResult
    public func stop() -> Int32 {
        guard let process else { return 0 }
        if process.isRunning { kill(process.pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.pid, SIGKILL) }
        let status = process.wait()
        self.process = nil
        return status
    }

    /// Waits for tetherd to end by itself (a failpoint's crash); its exit status (128 + signal
    /// when killed), or nil when it still runs after `timeout`.
    public func waitForExit(timeout: TimeInterval = 10) -> Int32? {
        guard let process else { return nil }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            guard Date() < deadline else { return nil }
            usleep(10_000)
        }
        self.process = nil
        return process.wait()
    }

    /// SIGKILL: a crash.
    public func crash() {
        guard let process else { return }
        kill(process.pid, SIGKILL)
        process.wait()
        self.process = nil
    }

    public func log() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    public func remove() {
        stop()
        directory.remove()
    }

    /// Runs `body` with a started agent and removes it afterwards, on success and on error.
    public static func with<Value>(
        tgtd: Tgtd?, extraRoot: String = "", extraISCSI: String = "", extraConfig: String = "", libvirtURI: String = "", launcher: [String] = [],
        _ body: (AgentProcess) async throws -> Value
    ) async throws -> Value {
        let agent = try AgentProcess(tgtd: tgtd, extraRoot: extraRoot, extraISCSI: extraISCSI, extraConfig: extraConfig, libvirtURI: libvirtURI, launcher: launcher)
        do {
            let value = try await body(agent)
            agent.remove()
            return value
        } catch {
            agent.remove()
            throw error
        }
    }
}
