import Foundation
import TetherCore

extension TetherError.Code {
    /// A file under `clusters.d` cannot be used. The agent reports it and serves the other clusters.
    ///
    /// Its kind is the default, `failed`: the node's own configuration is broken, not the request.
    public static let cephBadRegistryFile = Self(rawValue: "ceph.bad_registry_file")
    /// A cephx key file that is missing, unreadable, readable by others than its owner, or not a key.
    public static let cephBadKeyFile = Self(rawValue: "ceph.bad_key_file")
}

// Resolving a connection_info uses the shared codes `not_found` and `conflict` rather than
// `ceph.*` codes, so that the agent answers 404 and 409 and the CLI exits 3 and 4 for them.
extension TetherError {
    /// The request names a cluster this node does not know.
    static func cephUnknownCluster(_ name: String, registered: [String]) -> TetherError {
        TetherError(
            .notFound, "no Ceph cluster named \"\(name)\" is registered on this node (registered: \(list(registered)))",
            hint: "register it with `tether cluster add`, or make the backend's rbd_cluster_name match a registered cluster")
    }

    /// Nothing in the request matched a registered cluster; `lookedFor` says what was tried.
    static func cephNoClusterMatches(lookedFor: [String], registered: [String]) -> TetherError {
        TetherError(
            .notFound, "no Ceph cluster matches the connection_info: looked for \(lookedFor.joined(separator: "; ")) (registered: \(list(registered)))",
            hint: "register the cluster with `tether cluster add`, or send cluster_name in the connection_info")
    }

    /// More than one cluster fits what the request says; Tether never guesses between them.
    static func cephAmbiguousCluster(_ candidates: [String], by what: String) -> TetherError {
        TetherError(
            .conflict, "the connection_info matches more than one Ceph cluster by \(what): \(candidates.joined(separator: ", "))",
            hint: "send cluster_name in the connection_info, or give each registered cluster its own monitor addresses")
    }

    /// The cluster the request names (or its secret UUID points at) does not own the request's monitors.
    static func cephClusterDisagrees(_ cluster: CephCluster, matchedBy: String, hosts: [Portal], owners: [String]) -> TetherError {
        let others = owners.isEmpty ? "no registered cluster" : "cluster \(owners.joined(separator: ", "))"
        return TetherError(
            .conflict,
            "the connection_info's \(matchedBy) points at cluster \(cluster.name), but its hosts \(hosts.map(\.description).joined(separator: ", ")) are not monitors of \(cluster.name) (its monitors: \(cluster.monHost)); they belong to \(others)",
            hint: "check the backend's rbd_cluster_name and the registry file of \(cluster.name); a wrong cluster is worse than none")
    }

    /// The request's `cluster_fsid` is registered here as `registeredAs` (or not at all), but its
    /// `cluster_name` is the name of `named`, another cluster on this node.
    static func cephNameIsAnotherCluster(_ named: CephCluster, fsid: UUID, registeredAs: CephCluster?) -> TetherError {
        let fsidHere = registeredAs.map { "cluster \($0.name) here" } ?? "no cluster registered here"
        return TetherError(
            .conflict,
            "the connection_info's cluster_name \"\(named.name)\" is cluster \(named.name) here (fsid \(named.fsid.lowercased)), but its cluster_fsid \(fsid.lowercased) is \(fsidHere): they name two clusters",
            hint: "check the storage node's registry and cluster \(named.name)'s fsid here (ceph fsid); a wrong cluster is worse than none")
    }

    /// The request's `cluster_fsid` is not registered here, but its monitors are those of a cluster that is.
    static func cephMonitorsOfAnotherCluster(fsid: UUID, hosts: [Portal], owners: [CephCluster]) -> TetherError {
        TetherError(
            .conflict,
            "the connection_info's cluster_fsid \(fsid.lowercased) is not registered here, but its hosts \(hosts.map(\.description).joined(separator: ", ")) are monitors of \(owners.map { "cluster \($0.name) (fsid \($0.fsid.lowercased))" }.joined(separator: ", "))",
            hint: "check which cluster the storage node exports from, and the fsid in the registry file here; a wrong cluster is worse than none")
    }

    /// No registered cluster has the request's `cluster_fsid`.
    static func cephUnknownFSID(_ fsid: UUID, registered: [CephCluster]) -> TetherError {
        TetherError(
            .notFound,
            "no Ceph cluster with fsid \(fsid.lowercased) is registered on this node (registered: \(list(registered.map { "\($0.name) (\($0.fsid.lowercased))" })))",
            hint: "register that cluster here with `tether cluster add` (under any name), with the key of the user the storage node gives out")
    }

    /// The cluster has no user of that name.
    static func cephUnknownUser(_ user: String, in cluster: CephCluster) -> TetherError {
        TetherError(
            .notFound, "Ceph cluster \(cluster.name) has no user \"\(user)\" (it has: \(list(cluster.users.map(\.name))))",
            hint: "add [user.\(user)] with its key file to the registry file of \(cluster.name), or fix the backend's rbd_user")
    }

    /// A registry problem found at load, raised when something needs that cluster.
    public static func cephBadRegistryFile(_ problem: ConfigurationError) -> TetherError {
        TetherError(.cephBadRegistryFile, problem.description, hint: "fix the file, then run `tether cluster sync`; the other clusters keep working")
    }

    private static func list(_ names: [String]) -> String {
        names.isEmpty ? "none" : names.joined(separator: ", ")
    }
}
