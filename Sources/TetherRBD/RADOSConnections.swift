import Foundation
import TetherCeph
import TetherCore

/// Open librados connections, one per (cluster, user), reused across attaches: connecting costs
/// a monitor round trip and authentication, inspecting an image after that does not.
public actor RADOSConnections {
    private var open: [String: RADOSConnection] = [:]
    private let timeouts: RADOSTimeouts

    public init(timeouts: RADOSTimeouts = RADOSTimeouts()) {
        self.timeouts = timeouts
    }

    /// The connection for `user` of `cluster`, made when missing or when the cluster's monitors,
    /// fsid or the key changed since.
    public func connection(cluster: CephCluster, user: CephUser, key: Secret) async throws -> RADOSConnection {
        let identity = key.reveal { "\(cluster.name)|\(cluster.fsid)|\(cluster.monHost)|\(user.name)|\(SHA256.hex(of: Array($0.utf8)))" }
        if let existing = open[identity] { return existing }
        let connection = try await RADOSConnection.connect(clusterName: cluster.name, monitors: cluster.monHost, user: user.name, key: key, timeouts: timeouts)
        guard connection.fsid.isEmpty || connection.fsid.lowercased() == cluster.fsid.uuidString.lowercased() else {
            throw TetherError(
                .conflict, "the monitors of cluster \(cluster.name) belong to cluster \(connection.fsid), not \(cluster.fsid)",
                hint: "fix mon_host or fsid in clusters.d/\(cluster.name).toml")
        }
        open[identity] = connection
        return connection
    }

    /// Closes the connections to cluster `name` (it was removed or registered again): the next
    /// attach connects anew, and a removed cluster's connection does not linger. An attach that
    /// holds one keeps it until it is done.
    public func close(cluster name: String) {
        let dropped = open.filter { $0.key.hasPrefix("\(name)|") }
        guard !dropped.isEmpty else { return }
        for key in dropped.keys { open[key] = nil }
        // rados_shutdown (the connection's deinit) joins librados' threads: not on the cooperative pool.
        DispatchQueue.global().async { withExtendedLifetime(dropped) {} }
    }
}
