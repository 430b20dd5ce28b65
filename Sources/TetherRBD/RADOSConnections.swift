import Foundation
import TetherCeph
import TetherCore

/// Open librados connections, one per (cluster, user), reused across attaches: connecting costs
/// a monitor round trip and authentication, inspecting an image after that does not.
///
/// A connection is forgotten here when its cluster is removed or its monitors, fsid or key
/// change; calls still running on it keep it open until they return (each holds it), and its
/// last holder shuts it down.
public actor RADOSConnections {
    private struct Entry {
        var identity: String
        var connection: RADOSConnection
    }

    /// By "cluster|user".
    private var open: [String: Entry] = [:]
    /// Connects under way, by "cluster|user".
    private var connecting: [String: (identity: String, task: Task<RADOSConnection, any Error>)] = [:]
    private let timeouts: RADOSTimeouts

    public init(timeouts: RADOSTimeouts = RADOSTimeouts()) {
        self.timeouts = timeouts
    }

    /// The connection for `user` of `cluster`, made when missing or when the cluster's monitors,
    /// fsid or the key changed since. Attaches that need one at the same moment share one connect.
    public func connection(cluster: CephCluster, user: CephUser, key: Secret) async throws -> RADOSConnection {
        let slot = "\(cluster.name)|\(user.name)"
        let identity = key.reveal { "\(cluster.fsid)|\(cluster.monHost)|\(SHA256.hex(of: Array($0.utf8)))" }
        if let existing = open[slot], existing.identity == identity { return existing.connection }
        if let pending = connecting[slot], pending.identity == identity { return try await pending.task.value }
        // One task per slot, awaited by every attach that asks meanwhile: 32 first attaches to a
        // cluster make one connection, not 32. It is not cancelled with its first caller, whose
        // neighbours still wait for it; the connect has its own deadline (`timeouts.connect`).
        let timeouts = timeouts
        let task = Task {
            let connection = try await RADOSConnection.connect(clusterName: cluster.name, monitors: cluster.monHost, user: user.name, key: key, timeouts: timeouts)
            guard connection.fsid.isEmpty || connection.fsid.lowercased() == cluster.fsid.uuidString.lowercased() else {
                throw TetherError(
                    .conflict, "the monitors of cluster \(cluster.name) belong to cluster \(connection.fsid), not \(cluster.fsid)",
                    hint: "fix mon_host or fsid in clusters.d/\(cluster.name).toml")
            }
            return connection
        }
        connecting[slot] = (identity, task)
        defer {
            if connecting[slot]?.identity == identity { connecting[slot] = nil }
        }
        let connection = try await task.value
        if connecting[slot]?.identity == identity {
            open[slot] = Entry(identity: identity, connection: connection)
        }
        return connection
    }

    /// Forgets the connections to cluster `name` (it was removed, or registered again): the next
    /// attach connects anew, and a removed cluster's connection does not linger. A call still
    /// running on one holds it until it returns; its last holder shuts it down.
    public func close(cluster name: String) {
        let dropped = open.filter { $0.key.hasPrefix("\(name)|") }
        open = open.filter { !$0.key.hasPrefix("\(name)|") }
        connecting = connecting.filter { !$0.key.hasPrefix("\(name)|") }
        guard !dropped.isEmpty else { return }
        // rados_shutdown (the connection's deinit) joins librados' threads: not on the cooperative pool.
        DispatchQueue.global().async { withExtendedLifetime(dropped) {} }
    }

    /// The (cluster, user) pairs with an open connection, "cluster|user", for tests and the doctor.
    public var openSlots: [String] { open.keys.sorted() }
}
