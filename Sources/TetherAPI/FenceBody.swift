import TetherCore

/// `POST /v1/clusters/{name}/fence`: blocklist one client instance in that cluster, so it can no
/// longer read or write any image (Ceph's `osd blocklist add`).
public struct FenceRequest: Codable, Sendable {
    /// The client instance, `IP:port/nonce` (see `CephClientAddressGrammar`).
    public var address: String
    /// How long the entry lasts; absent: the cluster's default (mon_osd_blocklist_default_expire, 1 h).
    public var expireSeconds: Int64?
    /// The cluster user to fence as; absent: the cluster's default user.
    public var user: String?

    public init(address: String, expireSeconds: Int64? = nil, user: String? = nil) {
        self.address = address
        self.expireSeconds = expireSeconds
        self.user = user
    }

    enum CodingKeys: String, CodingKey {
        case address
        case expireSeconds = "expire_seconds"
        case user
    }

    /// A minute at least: shorter hands the fenced client its access back before a new writer has
    /// taken over. A year at most.
    public static let expireRange: ClosedRange<Int64> = 60...31_536_000
}

/// The answer: the entry as the cluster's OSD map now holds it.
public struct FenceResponse: Codable, Sendable, Hashable {
    public var cluster: String
    public var user: String
    public var address: String
    /// When the entry expires, as Ceph writes it (UTC).
    public var until: String?
    /// The address was blocklisted before this request (its expiry is set again).
    public var alreadyFenced: Bool

    public init(cluster: String, user: String, address: String, until: String?, alreadyFenced: Bool) {
        self.cluster = cluster
        self.user = user
        self.address = address
        self.until = until
        self.alreadyFenced = alreadyFenced
    }

    enum CodingKeys: String, CodingKey {
        case cluster, user, address, until
        case alreadyFenced = "already_fenced"
    }
}
