import Foundation
import TetherCore

/// Two nodes for cross-node tests: named network namespaces "storage" and "compute" (unique
/// names with this process's pid), joined by one veth pair whose ends carry the only addresses
/// (`storageAddress`, `computeAddress`, a /30), plus loopback. Run a program on a node with
/// `command(on:)`; `remove()` deletes both namespaces (and so the veth).
public final class NodePair: @unchecked Sendable {
    public enum Node: Sendable { case storage, compute }

    public let storageNamespace: String
    public let computeNamespace: String
    public let storageAddress = "10.77.0.1"
    public let computeAddress = "10.77.0.2"
    /// The veth end in the compute namespace (`setLink(up:)` takes it down and up).
    public let computeLink: String

    public init() throws {
        let tag = "\(getpid() % 100_000)\(String(UInt16.random(in: 0...0xfff), radix: 16))"
        storageNamespace = "tts\(tag)"
        computeNamespace = "ttc\(tag)"
        computeLink = "tc\(tag)"
        let storageLink = "ts\(tag)"
        try Self.ip(["netns", "add", storageNamespace])
        do {
            try Self.ip(["netns", "add", computeNamespace])
            try Self.ip(["link", "add", storageLink, "netns", storageNamespace, "type", "veth", "peer", "name", computeLink, "netns", computeNamespace])
            for (namespace, link, address) in [(storageNamespace, storageLink, storageAddress), (computeNamespace, computeLink, computeAddress)] {
                try Self.ip(["-n", namespace, "link", "set", "lo", "up"])
                try Self.ip(["-n", namespace, "address", "add", "\(address)/30", "dev", link])
                try Self.ip(["-n", namespace, "link", "set", link, "up"])
            }
        } catch {
            remove()
            throw error
        }
    }

    /// What runs a program inside `node`'s namespace: `ip netns exec NS`, which execs it (the
    /// pid is the program's). Put it before the program and its arguments.
    public func launcher(_ node: Node) -> [String] {
        [Lab.find("ip") ?? "/usr/sbin/ip", "netns", "exec", node == .storage ? storageNamespace : computeNamespace]
    }

    /// Runs `program arguments` on `node`; its exit status and output.
    public func run(on node: Node, _ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let command = launcher(node) + [program] + arguments
        return try Lab.run(command[0], Array(command.dropFirst()), environment: environment)
    }

    /// Takes the compute node's end of the veth down or up: the link between the nodes breaks.
    public func setLink(up: Bool) throws {
        try Self.ip(["-n", computeNamespace, "link", "set", computeLink, up ? "up" : "down"])
    }

    /// Deletes both namespaces; the veth goes with them. Safe to call twice.
    public func remove() {
        for namespace in [storageNamespace, computeNamespace] {
            // Cleanup: a namespace that was never made, or is gone already, is what we want.
            _ = try? Lab.run("ip", ["netns", "delete", namespace])
        }
    }

    /// Runs `body` with a new pair and removes it afterwards, on success and on error.
    public static func with<Value>(_ body: (NodePair) async throws -> Value) async throws -> Value {
        let pair = try NodePair()
        defer { pair.remove() }
        return try await body(pair)
    }

    private static func ip(_ arguments: [String]) throws {
        let (status, output) = try Lab.run("ip", arguments)
        guard status == 0 else { throw TetherError(.internalError, "ip \(arguments.joined(separator: " ")) failed (\(status)): \(output)") }
    }
}
