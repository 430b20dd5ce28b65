import Foundation
import TetherCeph
import TetherCore

/// initialize_connection for RBD, target side: what Cinder's RBD driver answers. Nothing changes in
/// the cluster (access is the user's caps), so there is nothing to journal or revoke; the image is
/// checked so a typo fails here, not at attach.
public struct RBDExporter: Sendable {
    /// The registry as it is now (clusters may be added and removed while the agent runs).
    public let registry: @Sendable () async -> CephRegistry
    let connections: RADOSConnections

    public init(registry: @escaping @Sendable () async -> CephRegistry, connections: RADOSConnections) {
        self.registry = registry
        self.connections = connections
    }

    public struct Export: Sendable {
        public var connectionInfo: ConnectionInfo
        public var cluster: CephCluster
        public var user: CephUser
        public var image: RBDImageInfo
    }

    public func initializeConnection(volumeID: String, cluster name: String, pool: String, image: String, user userName: String?) async throws -> Export {
        let registry = await registry()
        guard let cluster = registry.cluster(named: name) else {
            throw TetherError(
                .notFound, "no Ceph cluster \(name) is registered (known: \(registry.names.joined(separator: ", ")))",
                hint: "add it to clusters.d, or check the name")
        }
        guard let user = userName.map({ cluster.user(named: $0) }) ?? cluster.defaultUser else {
            throw TetherError(
                .notFound, "cluster \(name) has no user \(userName ?? "(default)") (users: \(cluster.users.map(\.name).joined(separator: ", ")))",
                hint: "name one of the cluster's users")
        }
        let key = try registry.requireKey(for: user, in: cluster)
        let info = try await connections.connection(cluster: cluster, user: user, key: key).inspect(pool: pool, image: image)
        return Export(connectionInfo: Self.connectionInfo(volumeID: volumeID, cluster: cluster, user: user, pool: pool, image: image), cluster: cluster, user: user, image: info)
    }

    /// Cinder's shape: monitors' v1 addresses, ports as strings, the cluster name and secret UUID,
    /// no key (the attaching node has it in its own registry). Plus `cluster_fsid`, which Cinder
    /// does not send: the attaching node may know the cluster by another name, and the fsid
    /// names it on every node.
    static func connectionInfo(volumeID: String, cluster: CephCluster, user: CephUser, pool: String, image: String) -> ConnectionInfo {
        let portals = cluster.monitors.map { $0.v1 ?? $0.portals[0] }
        return ConnectionInfo(driverVolumeType: "rbd", data: [
            "name": .string("\(pool)/\(image)"),
            "hosts": .array(portals.map { .string($0.host) }),
            "ports": .array(portals.map { .string(String($0.port)) }),
            "cluster_name": .string(cluster.name),
            "cluster_fsid": .string(cluster.fsid.uuidString.lowercased()),
            "auth_enabled": true,
            "auth_username": .string(user.name),
            "secret_type": "ceph",
            "secret_uuid": .string(cluster.secretUUID(for: user).uuidString.lowercased()),
            "volume_id": .string(volumeID),
            "discard": true,
            "access_mode": "rw",
            "encrypted": false,
            "qos_specs": nil,
        ])
    }
}
