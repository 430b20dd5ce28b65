import Foundation
import TetherCore

/// Finds the registered cluster and user an rbd connection_info refers to.
///
/// In order: `cluster_name` (exact); else `secret_uuid` (a user's, given or derived); else the
/// monitor addresses in `hosts`/`ports` (host and port, so two lab clusters on one IP stay
/// apart); else the keys of an inline `keyring` (cinderlib). Whatever picked the cluster, the
/// request's monitors, when it has any, must include one of that cluster's: a wrong cluster is
/// worse than none. A `cluster_name` that is not registered is an error, never a reason to try
/// the hosts.
public enum CephResolver {
    /// - Throws: `not_found` when no cluster matches (saying what was looked for) or the user is
    ///   not one of the cluster's (naming the users it has); `conflict` when several clusters
    ///   match, or the request's monitors are not the chosen cluster's; `invalid_input` when no
    ///   user is named and the cluster has no default.
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

    /// True when one of `portals` is an address of one of `cluster`'s monitors.
    static func owns(_ cluster: CephCluster, any portals: [Portal]) -> Bool {
        portals.contains { wanted in cluster.portals.contains { $0.sameAddress(as: wanted) } }
    }

    /// Cinder sends "cinder"; some tools send the entity, "client.cinder".
    private static func userName(_ text: String) -> String {
        text.hasPrefix("client.") ? String(text.dropFirst("client.".count)) : text
    }
}
