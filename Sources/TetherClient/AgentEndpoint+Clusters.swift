import TetherAPI

extension AgentEndpoint where Response == ClusterList {
    public static var clusters: Self { Self(method: "GET", target: "/v1/clusters") }
}

extension AgentEndpoint where Response == ClusterBody {
    public static func cluster(_ name: String) -> Self {
        Self(method: "GET", target: "/v1/clusters/\(percentEncoded(name))")
    }

    /// Registers or replaces a cluster; the request carries the users' keys.
    public static func addCluster(_ request: CreateClusterRequest) throws -> Self {
        try Self(method: "POST", target: "/v1/clusters", json: request)
    }
}

extension AgentEndpoint where Response == ClusterSyncBody {
    public static func removeCluster(_ name: String) -> Self {
        Self(method: "DELETE", target: "/v1/clusters/\(percentEncoded(name))")
    }

    public static var syncClusters: Self { Self(method: "POST", target: "/v1/clusters/sync") }
}
