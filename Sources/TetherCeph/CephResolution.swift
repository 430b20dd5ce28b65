/// The cluster and user an rbd connection_info refers to, and what told Tether so.
public struct CephResolution: Sendable, Hashable {
    public enum Match: String, Sendable, Hashable {
        case fsid = "cluster_fsid"
        case clusterName = "cluster_name"
        case secretUUID = "secret_uuid"
        case monitors = "hosts"
        case keyring
    }

    public var cluster: CephCluster
    public var user: CephUser
    /// For logs: which field of the request picked the cluster.
    public var match: Match

    public init(cluster: CephCluster, user: CephUser, match: Match) {
        self.cluster = cluster
        self.user = user
        self.match = match
    }
}
