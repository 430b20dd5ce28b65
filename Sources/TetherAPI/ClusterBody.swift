import TetherCore

/// `POST /v1/clusters`: register (or replace) a Ceph cluster. Keys travel only in this body,
/// over the agent's 0660 socket, and land in 0600 files.
public struct CreateClusterRequest: Codable, Sendable {
    public struct User: Codable, Sendable {
        public var name: String
        public var key: Secret
        public var secretUUID: String?

        public init(name: String, key: Secret, secretUUID: String? = nil) {
            self.name = name
            self.key = key
            self.secretUUID = secretUUID
        }

        enum CodingKeys: String, CodingKey {
            case name, key
            case secretUUID = "secret_uuid"
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            // The one place a key is encoded: the client sends it to the agent.
            try key.reveal { try container.encode($0, forKey: .key) }
            try container.encodeIfPresent(secretUUID, forKey: .secretUUID)
        }
    }

    public var name: String
    public var fsid: String
    /// Ceph's `mon host` entries: "host:port", "v1:…", "[v2:…,v1:…]".
    public var monHost: [String]
    public var users: [User]

    public init(name: String, fsid: String, monHost: [String], users: [User]) {
        self.name = name
        self.fsid = fsid
        self.monHost = monHost
        self.users = users
    }

    enum CodingKeys: String, CodingKey {
        case name, fsid
        case monHost = "mon_host"
        case users
    }
}

/// A registered cluster as the API shows it: never a key.
public struct ClusterBody: Codable, Sendable, Hashable {
    public struct User: Codable, Sendable, Hashable {
        public var name: String
        public var hasKey: Bool
        public var secretUUID: String
        public var secretUsage: String
        /// True when the secret is another tool's that Tether adopted: `secret_uuid` and
        /// `secret_usage` are then that secret's, and disks name it by UUID.
        public var secretAdopted: Bool
        public var keyring: String

        public init(name: String, hasKey: Bool, secretUUID: String, secretUsage: String, secretAdopted: Bool = false, keyring: String) {
            self.name = name
            self.hasKey = hasKey
            self.secretUUID = secretUUID
            self.secretUsage = secretUsage
            self.secretAdopted = secretAdopted
            self.keyring = keyring
        }

        /// Older agents sent no `secret_adopted`: they adopted nothing.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            hasKey = try container.decode(Bool.self, forKey: .hasKey)
            secretUUID = try container.decode(String.self, forKey: .secretUUID)
            secretUsage = try container.decode(String.self, forKey: .secretUsage)
            secretAdopted = try container.decodeIfPresent(Bool.self, forKey: .secretAdopted) ?? false
            keyring = try container.decode(String.self, forKey: .keyring)
        }

        enum CodingKeys: String, CodingKey {
            case name
            case hasKey = "has_key"
            case secretUUID = "secret_uuid"
            case secretUsage = "secret_usage"
            case secretAdopted = "secret_adopted"
            case keyring
        }
    }

    public var name: String
    public var fsid: String
    public var monHost: String
    public var conf: String
    public var users: [User]

    public init(name: String, fsid: String, monHost: String, conf: String, users: [User]) {
        self.name = name
        self.fsid = fsid
        self.monHost = monHost
        self.conf = conf
        self.users = users
    }

    enum CodingKeys: String, CodingKey {
        case name, fsid
        case monHost = "mon_host"
        case conf, users
    }
}

public struct ClusterList: Codable, Sendable {
    public var clusters: [ClusterBody]
    /// Registry files that could not be used, each with its file, line and reason.
    public var problems: [String]

    public init(clusters: [ClusterBody], problems: [String]) {
        self.clusters = clusters
        self.problems = problems
    }
}

/// What `POST /v1/clusters/sync` (and add/remove) changed in the ceph directory.
public struct ClusterSyncBody: Codable, Sendable, Hashable {
    public var written: [String]
    public var deleted: [String]
    /// Files Tether would write but did not, because it did not write them first.
    public var conflicts: [String]
    /// libvirt secrets defined (or confirmed) and undefined, by UUID.
    public var secretsDefined: [String]
    public var secretsRemoved: [String]
    /// Secrets another tool defined that Tether uses (and never undefines), by UUID.
    public var secretsAdopted: [String]
    /// What could not be done (libvirt unreachable, a usage taken by another secret).
    public var problems: [String]

    public init(
        written: [String], deleted: [String], conflicts: [String], secretsDefined: [String] = [], secretsRemoved: [String] = [],
        secretsAdopted: [String] = [], problems: [String] = []
    ) {
        self.written = written
        self.deleted = deleted
        self.conflicts = conflicts
        self.secretsDefined = secretsDefined
        self.secretsRemoved = secretsRemoved
        self.secretsAdopted = secretsAdopted
        self.problems = problems
    }

    enum CodingKeys: String, CodingKey {
        case written, deleted, conflicts
        case secretsDefined = "secrets_defined"
        case secretsRemoved = "secrets_removed"
        case secretsAdopted = "secrets_adopted"
        case problems
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        written = try container.decode([String].self, forKey: .written)
        deleted = try container.decode([String].self, forKey: .deleted)
        conflicts = try container.decode([String].self, forKey: .conflicts)
        secretsDefined = try container.decodeIfPresent([String].self, forKey: .secretsDefined) ?? []
        secretsRemoved = try container.decodeIfPresent([String].self, forKey: .secretsRemoved) ?? []
        secretsAdopted = try container.decodeIfPresent([String].self, forKey: .secretsAdopted) ?? []
        problems = try container.decodeIfPresent([String].self, forKey: .problems) ?? []
    }
}
