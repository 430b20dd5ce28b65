import Foundation
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// Another node for a test: a network namespace of its own, reached from the test's namespace
/// through one veth pair and addressed only on it. Its namespace is held by a `sleep` started
/// with `unshare --net` (no /run/netns entry, nothing another test could see); programs run in it
/// through `nsenter --net=/proc/PID/ns/net`. The namespace and its veth go when the holder and
/// every program started in it have ended.
///
/// Servers the nodes share (a Ceph lab) listen on `serverAddress`, a /32 on the test namespace's
/// loopback that each node routes to through its veth.
public final class NodeNetwork: @unchecked Sendable {
    public struct Node: Sendable {
        /// The node's only address (on its end of the veth).
        public let address: String
        public let holder: pid_t
        let link: String

        /// `/proc/PID/ns/net` of the holder.
        public var namespace: String { "/proc/\(holder)/ns/net" }

        /// What runs a program in the node's namespace (`AgentProcess`'s launcher); nsenter execs it.
        public var launcher: [String] { [Lab.find("nsenter") ?? "nsenter", "--net=\(namespace)", "--"] }

        /// `program arguments` run in the node's namespace (as `nsenter`'s argv).
        public func command(_ program: String, _ arguments: [String]) -> (String, [String]) {
            ("nsenter", ["--net=\(namespace)", "--", Lab.find(program) ?? program] + arguments)
        }
    }

    public let serverAddress: String
    public private(set) var nodes: [Node] = []
    private var holders: [SpawnedProcess] = []
    private let subnet: Int
    private let tag: String

    /// Makes `count` nodes, 10.S.N.2 each, and the servers' 10.S.0.1.
    public init(nodes count: Int) throws {
        subnet = Int.random(in: 100...199)
        tag = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
        serverAddress = "10.\(subnet).0.1"
        do {
            try Self.ip(["addr", "add", "\(serverAddress)/32", "dev", "lo"])
            for index in 1...count { try addNode(index) }
        } catch {
            remove()
            throw error
        }
    }

    private func addNode(_ index: Int) throws {
        let holder = try SpawnedProcess("/usr/bin/unshare", ["--net", "--", "sleep", "3600"], logPath: "/dev/null")
        holders.append(holder)
        // unshare's namespace exists once it has exec'd sleep; until then /proc/PID/ns/net is ours.
        let own = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        let deadline = Date().addingTimeInterval(5)
        // An unreadable link (the holder gone) ends the wait too: the `ip` calls below then fail.
        while (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(holder.pid)/ns/net")) == own, Date() < deadline { usleep(5_000) }
        let here = "tv\(tag)\(index)", there = "tp\(tag)\(index)"
        let node = Node(address: "10.\(subnet).\(index).2", holder: holder.pid, link: here)
        try Self.ip(["link", "add", here, "type", "veth", "peer", "name", there, "netns", "\(holder.pid)"])
        try Self.ip(["addr", "add", "10.\(subnet).\(index).1/24", "dev", here])
        try Self.ip(["link", "set", here, "up"])
        for arguments in [
            ["link", "set", "lo", "up"], ["addr", "add", "\(node.address)/24", "dev", there], ["link", "set", there, "up"],
            ["route", "add", "default", "via", "10.\(subnet).\(index).1"],
        ] {
            try Self.ip(arguments, in: node)
        }
        nodes.append(node)
    }

    /// Ends the holders (programs started in a node must have ended already) and removes what
    /// this made in the test's namespace. Idempotent.
    public func remove() {
        for holder in holders where holder.isRunning {
            kill(holder.pid, SIGKILL)
            holder.wait()
        }
        holders = []
        for node in nodes {
            // Gone with the namespace already, unless a program still holds it: then remove it here.
            _ = try? Lab.run("ip", ["link", "del", node.link])
        }
        nodes = []
        _ = try? Lab.run("ip", ["addr", "del", "\(serverAddress)/32", "dev", "lo"])  // absent when init failed first
    }

    /// Runs `body` with `count` nodes and removes them afterwards, on success and on error.
    public static func with<Value>(nodes count: Int, _ body: (NodeNetwork) async throws -> Value) async throws -> Value {
        let network = try NodeNetwork(nodes: count)
        do {
            let value = try await body(network)
            network.remove()
            return value
        } catch {
            network.remove()
            throw error
        }
    }

    static func ip(_ arguments: [String], in node: Node? = nil) throws {
        let (program, argv) = node?.command("ip", arguments) ?? ("ip", arguments)
        let result = try Lab.run(program, argv)
        guard result.status == 0 else {
            throw TetherError(.internalError, "ip \(arguments.joined(separator: " "))\(node.map { " in \($0.namespace)" } ?? "") failed: \(result.output)")
        }
    }
}
