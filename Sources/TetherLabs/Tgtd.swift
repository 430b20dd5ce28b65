import Foundation
import TetherCore
import TetherFakes

/// A private tgtd for a test: its own control socket, its own port on 127.0.0.1 and 127.0.0.2.
///
/// tgtd ignores SIGTERM, so it is killed; it keeps no state on disk but the backing files.
public final class Tgtd: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let port: Int
    public let controlPort: Int
    public let portals: [Portal]
    // Replaced only by `restart`, which the test that owns this tgtd calls.
    private var process: Process
    /// What runs tgtd (and the readiness probe) in another network namespace; empty: this one.
    public let launcher: [String]

    /// The `TGT_IPC_SOCKET` base; the socket itself is `<base>.<controlPort>`.
    public var socketBase: String { directory.file("tgtd.sock") }

    private init(directory: TemporaryDirectory, port: Int, controlPort: Int, portals: [Portal], process: Process, launcher: [String]) {
        self.launcher = launcher
        self.directory = directory
        self.port = port
        self.controlPort = controlPort
        self.portals = portals
        self.process = process
    }

    /// Starts tgtd with `portalHosts` (first is the listening address), waits until it serves.
    /// `launcher` runs it in another network namespace (`NodePair.launcher`).
    public static func start(portalHosts: [String] = ["127.0.0.1", "127.0.0.2"], launcher: [String] = []) throws -> Tgtd {
        guard let binary = Lab.find("tgtd") else {
            throw TetherError(.notFound, "tgtd is not installed", hint: "run scripts/lab.sh install")
        }
        let directory = try TemporaryDirectory(prefix: "tgt")
        for _ in 0..<5 {
            let port = Lab.randomPort()
            let controlPort = Int.random(in: 100...999)
            let process = try launch(binary, directory: directory, host: portalHosts[0], port: port, controlPort: controlPort, launcher: launcher)
            let tgtd = Tgtd(
                directory: directory, port: port, controlPort: controlPort, portals: portalHosts.map { Portal(host: $0, port: port) }, process: process,
                launcher: launcher)
            if tgtd.waitUntilReady(), tgtd.addPortals(portalHosts.dropFirst()) {
                return tgtd
            }
            tgtd.kill(keepDirectory: true)
        }
        directory.remove()
        throw TetherError(.internalError, "tgtd did not start on a free port after 5 tries")
    }

    private static func launch(_ binary: String, directory: TemporaryDirectory, host: String, port: Int, controlPort: Int, launcher: [String] = []) throws -> Process {
        let process = Process()
        // `ip netns exec` execs tgtd: the process (and its pid) is tgtd's.
        let command = launcher + [binary, "-f", "-C", "\(controlPort)", "--iscsi", "portal=\(host):\(port)"]
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(["TGT_IPC_SOCKET": directory.file("tgtd.sock")]) { _, new in new }
        let log = FileHandle(forWritingAtPath: directory.file("tgtd.log")) ?? {
            _ = FileManager.default.createFile(atPath: directory.file("tgtd.log"), contents: nil)
            return FileHandle(forWritingAtPath: directory.file("tgtd.log"))!
        }()
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        return process
    }

    /// Kills tgtd (as a crash or a reboot would) and starts it again on the same portals and
    /// control socket. It comes back with no target: tgtd keeps its configuration in memory only.
    public func restart() throws {
        guard let binary = Lab.find("tgtd") else {
            throw TetherError(.notFound, "tgtd is not installed", hint: "run scripts/lab.sh install")
        }
        kill(keepDirectory: true)
        process = try Self.launch(binary, directory: directory, host: portals[0].host, port: port, controlPort: controlPort, launcher: launcher)
        guard waitUntilReady(), addPortals(portals.dropFirst().map(\.host)[...]) else {
            throw TetherError(.internalError, "tgtd did not serve \(portals) again after a restart: \(tgtdLog.suffix(2000))")
        }
    }

    /// What tgtd wrote to its log (every run of it).
    public var tgtdLog: String {
        // For failure messages only: no log yet reads as empty.
        (try? String(contentsOfFile: directory.file("tgtd.log"), encoding: .utf8)) ?? ""
    }

    /// Runs `body` with a fresh tgtd and stops it afterwards, on success and on error.
    public static func with<Value>(
        portalHosts: [String] = ["127.0.0.1", "127.0.0.2"], launcher: [String] = [], _ body: (Tgtd) async throws -> Value
    ) async throws -> Value {
        let tgtd = try start(portalHosts: portalHosts, launcher: launcher)
        do {
            let value = try await body(tgtd)
            tgtd.stop()
            return value
        } catch {
            tgtd.stop()
            throw error
        }
    }

    /// Runs tgtadm against this tgtd. For lab set-up and checks: never pass a secret.
    @discardableResult
    public func tgtadm(_ arguments: [String]) throws -> String {
        let result = try Lab.run("tgtadm", ["-C", "\(controlPort)", "--lld", "iscsi"] + arguments, environment: ["TGT_IPC_SOCKET": socketBase])
        guard result.status == 0 else {
            throw TetherError(.targetFailed, "tgtadm \(arguments.joined(separator: " ")) failed: \(result.output)")
        }
        return result.output
    }

    public var pid: Int32 { process.processIdentifier }

    public func stop() {
        kill(keepDirectory: false)
    }

    private func kill(keepDirectory: Bool) {
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        if !keepDirectory { directory.remove() }
    }

    private func waitUntilReady() -> Bool {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, process.isRunning {
            if (try? tgtadm(["--op", "show", "--mode", "sys"])) != nil, isListening(host: portals[0].host) {
                return true
            }
            usleep(20_000)
        }
        return false
    }

    private func addPortals(_ hosts: ArraySlice<String>) -> Bool {
        for host in hosts {
            guard (try? tgtadm(["--op", "new", "--mode", "portal", "--param", "portal=\(host):\(port)"])) != nil,
                isListening(host: host)
            else { return false }
        }
        return true
    }

    /// Whether tgtd accepts connections on `host`, probed from tgtd's own namespace.
    private func isListening(host: String) -> Bool {
        guard !launcher.isEmpty else { return Lab.isListening(host: host, port: port) }
        let probe = launcher + ["bash", "-c", "exec 3<>/dev/tcp/\(host)/\(port)"]
        // A probe that cannot even run counts as not listening: the caller's deadline reports it.
        return (try? Lab.run(probe[0], Array(probe.dropFirst())))?.status == 0
    }
}
