import Foundation
import TetherCore

/// Finds the registered cluster and user an rbd connection_info refers to.
///
/// In order: `cluster_fsid` (Tether's exports send it: the storage node may call the cluster by
/// another name than this node does); else `cluster_name` (exact); else `secret_uuid` (a
/// user's, given or derived); else the monitor addresses in `hosts`/`ports` (host and port, so
/// two lab clusters on one IP stay apart); else the keys of an inline `keyring` (cinderlib).
/// Whatever picked the cluster, the request's monitors, when it has any, must include one of
/// that cluster's: a wrong cluster is worse than none. With an fsid, a `cluster_name` that is
/// not registered here is only the other node's name, but one registered here for another fsid
/// is a conflict. Without one, a `cluster_name` that is not registered is an error, never a
/// reason to try the hosts.
public enum CephResolver {
    /// - Throws: `not_found` when no cluster matches (saying what was looked for) or the user is
    ///   not one of the cluster's (naming the users it has); `conflict` when several clusters
    ///   match, the request's monitors are not the chosen cluster's, or its `cluster_name` or
    ///   monitors are another registered cluster's than its `cluster_fsid`; `invalid_input` when
    ///   no user is named and the cluster has no default.
    public static func resolve(_ data: RBDConnectionData, in registry: CephRegistry) throws -> CephResolution {
        let (cluster, match, impliedUser) = try findCluster(data, in: registry)
        if !data.monitors.isEmpty, !owns(cluster, any: data.monitors) {
            let owners = registry.clusters.filter { owns($0, any: data.monitors) }.map(\.name)
            throw TetherError.cephClusterDisagrees(cluster, matchedBy: match.rawValue, hosts: data.monitors, owners: owners)
        }
        let user: CephUser
        if let requested = data.authUsername.map(userName), !requested.isEmpty {
            guard let found = cluster.user(named: requested) else { throw TetherError.cephUnknownUser(requested, in: cluster) }
            user = found
        } else if let found = impliedUser ?? cluster.defaultUser {
            user = found
        } else {
            throw TetherError.invalidInput(
                "the rbd connection_info has no auth_username and cluster \(cluster.name) has several users (\(cluster.users.map(\.name).joined(separator: ", "))) and no default_user",
                hint: "send auth_username, or set default_user in the registry file of \(cluster.name)")
        }
        return CephResolution(cluster: cluster, user: user, match: match)
    }

    private static func findCluster(_ data: RBDConnectionData, in registry: CephRegistry) throws -> (CephCluster, CephResolution.Match, CephUser?) {
        if let fsid = data.clusterFSID {
            let cluster = try findCluster(fsid: fsid, data, in: registry)
            return (cluster, .fsid, impliedUser(data, in: cluster))
        }
        if let name = data.clusterName, !name.isEmpty {
            guard let cluster = registry.cluster(named: name) else {
                throw TetherError.cephUnknownCluster(name, registered: registry.names)
            }
            return (cluster, .clusterName, nil)
        }
        var lookedFor: [String] = []

        if let text = data.secretUUID, !text.isEmpty {
            lookedFor.append("secret_uuid \(text)")
            // An unknown UUID is no error: it may be Cinder's own rbd_secret_uuid, unknown here.
            if let uuid = UUID(uuidString: text) {
                let owners = registry.clusters.flatMap { cluster in
                    cluster.users.filter { cluster.secretUUID(for: $0) == uuid }.map { (cluster, $0) }
                }
                if owners.count > 1 {
                    throw TetherError.cephAmbiguousCluster(owners.map { "\($0.0.name) (client.\($0.1.name))" }, by: "secret_uuid")
                }
                if let (cluster, user) = owners.first { return (cluster, .secretUUID, user) }
            }
        }

        if !data.monitors.isEmpty {
            lookedFor.append("hosts \(data.monitors.map(\.description).joined(separator: ", "))")
            let candidates = registry.clusters.filter { owns($0, any: data.monitors) }
            if candidates.count > 1 {
                throw TetherError.cephAmbiguousCluster(candidates.map(\.name), by: "monitor address")
            }
            if let cluster = candidates.first { return (cluster, .monitors, nil) }
        }

        if let keyring = data.keyring {
            let entries = CephKey.entries(inKeyring: keyring)
            lookedFor.append("the \(entries.count == 1 ? "key" : "\(entries.count) keys") of the inline keyring")
            var owners: [(CephCluster, CephUser)] = []
            for cluster in registry.clusters {
                for user in cluster.users {
                    guard let key = registry.key(for: user, in: cluster), entries.contains(where: { $0.key == key }) else { continue }
                    owners.append((cluster, user))
                }
            }
            let clusters = Set(owners.map(\.0.name)).sorted()
            if clusters.count > 1 {
                throw TetherError.cephAmbiguousCluster(clusters, by: "inline keyring")
            }
            if let (cluster, user) = owners.first {
                // Several users of one cluster with the same key: the keyring's section decides.
                let named = entries.compactMap(\.entity).compactMap { entity in owners.first { $0.1.entity == entity }?.1 }.first
                return (cluster, .keyring, named ?? (owners.count == 1 ? user : nil))
            }
        }

        if lookedFor.isEmpty {
            lookedFor.append("nothing: the connection_info has no cluster_name, secret_uuid, hosts or keyring")
        }
        throw TetherError.cephNoClusterMatches(lookedFor: lookedFor, registered: registry.names)
    }

    /// The cluster registered with `fsid`. The request's `cluster_name` is the sending node's
    /// name: not registered here, it says nothing; registered here for another fsid, the two
    /// keys name two clusters and neither is guessed.
    private static func findCluster(fsid: UUID, _ data: RBDConnectionData, in registry: CephRegistry) throws -> CephCluster {
        let named = data.clusterName.flatMap { $0.isEmpty ? nil : registry.cluster(named: $0) }
        guard let cluster = registry.cluster(fsid: fsid) else {
            if let named {
                throw TetherError.cephNameIsAnotherCluster(named, fsid: fsid, registeredAs: nil)
            }
            let owners = data.monitors.isEmpty ? [] : registry.clusters.filter { owns($0, any: data.monitors) }
            if !owners.isEmpty {
                throw TetherError.cephMonitorsOfAnotherCluster(fsid: fsid, hosts: data.monitors, owners: owners)
            }
            throw TetherError.cephUnknownFSID(fsid, registered: registry.clusters)
        }
        if let named, named != cluster {
            throw TetherError.cephNameIsAnotherCluster(named, fsid: fsid, registeredAs: cluster)
        }
        return cluster
    }

    /// The user whose libvirt secret UUID the request sends, when it is one of `cluster`'s: the
    /// user when the request names none.
    private static func impliedUser(_ data: RBDConnectionData, in cluster: CephCluster) -> CephUser? {
        guard let uuid = data.secretUUID.flatMap(UUID.init(uuidString:)) else { return nil }
        return cluster.users.first { cluster.secretUUID(for: $0) == uuid }
    }

    /// True when one of `portals` is an address of one of `cluster`'s monitors.
    static func owns(_ cluster: CephCluster, any portals: [Portal]) -> Bool {
        portals.contains { wanted in cluster.portals.contains { $0.sameAddress(as: wanted) } }
    }

    /// Cinder sends "cinder"; some tools send the entity, "client.cinder".
    private static func userName(_ text: String) -> String {
        text.hasPrefix("client.") ? String(text.dropFirst("client.".count)) : text
    }
}
