import TetherAPI

extension AgentEndpoint where Response == ClusterList {
    public static var clusters: Self { Self(method: "GET", target: "/v1/clusters").waiting("listing Ceph clusters", check: "tether cluster list") }
}

extension AgentEndpoint where Response == ClusterBody {
    public static func cluster(_ name: String) -> Self {
        Self(method: "GET", target: "/v1/clusters/\(percentEncoded(name))").waiting("reading Ceph cluster \(name)", check: "tether cluster show \(name)")
    }

    /// Registers or replaces a cluster; the request carries the users' keys.
    public static func addCluster(_ request: CreateClusterRequest) throws -> Self {
        try Self(method: "POST", target: "/v1/clusters", json: request)
            .waiting("registering Ceph cluster \(request.name) (files, libvirt secrets)", check: "tether cluster show \(request.name)")
    }
}

extension AgentEndpoint where Response == ClusterSyncBody {
    public static func removeCluster(_ name: String) -> Self {
        Self(method: "DELETE", target: "/v1/clusters/\(percentEncoded(name))")
            .waiting("removing Ceph cluster \(name) (files, libvirt secrets)", check: "tether cluster list")
    }

    public static var syncClusters: Self {
        Self(method: "POST", target: "/v1/clusters/sync").waiting("syncing Ceph clusters (files, libvirt secrets)", check: "tether cluster list")
    }
}

extension AgentEndpoint where Response == FenceResponse {
    /// Blocklists a client instance of the cluster (Ceph's osd blocklist add).
    public static func fence(cluster: String, _ request: FenceRequest) throws -> Self {
        try Self(method: "POST", target: "/v1/clusters/\(percentEncoded(cluster))/fence", json: request)
            .waiting("fencing \(request.address) in Ceph cluster \(cluster) (osd blocklist add)", check: "tether fence \(request.address) --cluster \(cluster) again (it is idempotent)")
    }
}
