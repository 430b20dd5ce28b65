import Foundation
import TetherCore
import TetherFakes

#if canImport(Glibc)
import Glibc
#endif

/// A second node's network namespace for a test, joined to the test's own namespace by one veth
/// pair: `hostAddress` on the test's side, `nodeAddress` inside, a /24 and nothing else (no
/// route out, no loopback address shared). A sleeping process holds the namespace; stopping it
/// removes the namespace and with it both ends of the veth.
public final class NodeNamespace: @unchecked Sendable {
    public let hostAddress: String
    public let nodeAddress: String
    public let directory: TemporaryDirectory
    private let holder: SpawnedProcess

    public var pid: pid_t { holder.pid }
    /// nsenter's argument that enters this namespace.
    public var enter: String { "--net=/proc/\(holder.pid)/ns/net" }

    /// - Parameter subnet: the third octet of 10.77.X.0/24; tests that run at once use different ones.
    public init(subnet: Int) throws {
        hostAddress = "10.77.\(subnet).1"
        nodeAddress = "10.77.\(subnet).2"
        directory = try TemporaryDirectory(prefix: "nns")
        holder = try SpawnedProcess("/usr/bin/unshare", ["--net", "--", "sleep", "86400"], logPath: directory.file("holder.log"))
        do {
            try waitForNamespace()
            let outside = "tvh\(subnet)", inside = "tvn\(subnet)"
            try Self.check(Lab.run("ip", ["link", "add", outside, "type", "veth", "peer", "name", inside]))
            try Self.check(Lab.run("ip", ["link", "set", inside, "netns", "\(holder.pid)"]))
            try Self.check(Lab.run("ip", ["addr", "add", "\(hostAddress)/24", "dev", outside]))
            try Self.check(Lab.run("ip", ["link", "set", outside, "up"]))
            for arguments in [["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", "\(nodeAddress)/24", "dev", inside], ["ip", "link", "set", inside, "up"]] {
                try Self.check(run(arguments[0], Array(arguments.dropFirst())))
            }
        } catch {
            stop()
            throw error
        }
    }

    /// What runs a daemon inside the namespace (nsenter exec's it: the PID stays the daemon's).
    public var launcher: [String] { [Lab.find("nsenter") ?? "nsenter", enter, "--"] }

    /// Runs `program` inside the namespace.
    public func run(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        try Lab.run("nsenter", [enter, "--", Lab.find(program) ?? program] + arguments, environment: environment)
    }

    public func stop() {
        kill(holder.pid, SIGKILL)
        holder.wait()
        directory.remove()
    }

    public static func with<Value>(subnet: Int, _ body: (NodeNamespace) async throws -> Value) async throws -> Value {
        let namespace = try NodeNamespace(subnet: subnet)
        do {
            let value = try await body(namespace)
            namespace.stop()
            return value
        } catch {
            namespace.stop()
            throw error
        }
    }

    /// unshare has made the namespace once the holder's differs from ours.
    private func waitForNamespace() throws {
        let ours = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        for _ in 0..<200 {
            // The holder may not have exec'd yet: its link is then unreadable or still ours.
            if let theirs = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(holder.pid)/ns/net"), theirs != ours { return }
            guard holder.isRunning else { break }
            usleep(10_000)
        }
        throw TetherError(.internalError, "unshare --net did not make a namespace: \((try? String(contentsOfFile: directory.file("holder.log"), encoding: .utf8)) ?? "")")
    }

    private static func check(_ result: (status: Int32, output: String)) throws {
        guard result.status == 0 else { throw TetherError(.internalError, "network namespace set-up failed: \(result.output)") }
    }
}
