/// Kernel RBD: the image's krbd mapping. Keys are those results journaled before handles existed
/// used under `details`, so those decode as they are.
public struct KernelRBDHandle: Sendable, Codable, Hashable {
    public var volumeID: String?
    /// The registered cluster's name; nil for an interrupted attach whose request named none.
    public var cluster: String?
    /// The cluster's fsid; nil for an interrupted attach (found again from `connection`).
    public var fsid: String?
    public var user: String?
    public var resolvedBy: String?
    public var pool: String
    public var namespace: String
    public var image: String
    public var snapshot: String
    /// The krbd device number at attach: a hint only; numbers change at reboot.
    public var deviceID: Int?
    public var device: String?
    public var stableName: String?
    public var byTether: String?
    public var readOnly: Bool?
    public var clientID: String?
    public var clientAddress: String?
    /// An interrupted attach's connection_info data without its keyring, to find the cluster again.
    public var connection: [String: JSONValue]?

    public init(
        volumeID: String?, cluster: String?, fsid: String?, user: String? = nil, resolvedBy: String? = nil, pool: String, namespace: String,
        image: String, snapshot: String, deviceID: Int? = nil, device: String? = nil, stableName: String? = nil, byTether: String? = nil,
        readOnly: Bool? = nil, clientID: String? = nil, clientAddress: String? = nil, connection: [String: JSONValue]? = nil
    ) {
        self.volumeID = volumeID
        self.cluster = cluster
        self.fsid = fsid
        self.user = user
        self.resolvedBy = resolvedBy
        self.pool = pool
        self.namespace = namespace
        self.image = image
        self.snapshot = snapshot
        self.deviceID = deviceID
        self.device = device
        self.stableName = stableName
        self.byTether = byTether
        self.readOnly = readOnly
        self.clientID = clientID
        self.clientAddress = clientAddress
        self.connection = connection
    }

    enum CodingKeys: String, CodingKey {
        case volumeID = "volume_id"
        case cluster, fsid, user
        case resolvedBy = "resolved_by"
        case pool, namespace, image, snapshot
        case deviceID = "device_id"
        case device
        case stableName = "stable_name"
        case byTether = "by_tether"
        case readOnly = "read_only"
        case clientID = "client_id"
        case clientAddress = "client_addr"
        case connection
    }
}

/// Network RBD: nothing mapped; what the attach found out about the image (the key is in the
/// attachment's secret file, the conf in the cluster's files).
public struct NetworkRBDHandle: Sendable, Codable, Hashable {
    public var cluster: String
    public var fsid: String
    public var user: String
    public var resolvedBy: String
    public var features: [String]
    public var watchers: [String]
    public var lockOwners: [String]

    public init(cluster: String, fsid: String, user: String, resolvedBy: String, features: [String], watchers: [String], lockOwners: [String]) {
        self.cluster = cluster
        self.fsid = fsid
        self.user = user
        self.resolvedBy = resolvedBy
        self.features = features
        self.watchers = watchers
        self.lockOwners = lockOwners
    }

    enum CodingKeys: String, CodingKey {
        case cluster, fsid, user
        case resolvedBy = "resolved_by"
        case features, watchers
        case lockOwners = "lock_owners"
    }
}
