import Foundation
import TetherCore

/// A user of a cluster, by name: the key of a cephx key in the registry.
public struct CephUserID: Sendable, Hashable, CustomStringConvertible {
    public var cluster: String
    public var user: String

    public init(cluster: String, user: String) {
        self.cluster = cluster
        self.user = user
    }

    public var description: String { "client.\(user) of cluster \(cluster)" }
}

/// The Ceph clusters this node knows, with their users' keys, and the problems found reading them.
///
/// `load(directory:host:inspector:)` reads it from `clusters.d`; a bad file is a `problem`, not
/// an error, so one typo does not take every cluster down.
public struct CephRegistry: Sendable {
    /// Where `tether.toml` and `clusters.d/` live.
    public static let defaultDirectory = "/etc/tether"

    /// Sorted by name.
    public private(set) var clusters: [CephCluster] = []
    /// Files (and key files) that could not be used, with line and reason; their clusters (or
    /// users' keys) are left out.
    public internal(set) var problems: [ConfigurationError] = []
    private var keys: [CephUserID: Secret] = [:]
    private var keyProblems: [CephUserID: ConfigurationError] = [:]

    public init() {}

    /// A registry of `clusters` and `keys`, checked as `insert` checks.
    /// - Throws: what `insert` throws, or `invalid_input` for a key of an unknown user.
    public init(clusters: [CephCluster], keys: [CephUserID: Secret] = [:]) throws {
        for cluster in clusters {
            try insert(cluster)
        }
        for (id, key) in keys {
            try setKey(key, for: id)
        }
    }

    public var names: [String] { clusters.map(\.name) }

    public func cluster(named name: String) -> CephCluster? {
        clusters.first { $0.name == name }
    }

    /// The cluster with `fsid`; `insert` keeps fsids unique.
    public func cluster(fsid: UUID) -> CephCluster? {
        clusters.first { $0.fsid == fsid }
    }

    /// The key of `user` in `cluster`, nil when none was read (see `problems`).
    public func key(for user: CephUser, in cluster: CephCluster) -> Secret? {
        keys[CephUserID(cluster: cluster.name, user: user.name)]
    }

    /// The key of `user` in `cluster`.
    /// - Throws: `ceph.bad_key_file` saying why there is none (missing file, mode, content).
    public func requireKey(for user: CephUser, in cluster: CephCluster) throws -> Secret {
        let id = CephUserID(cluster: cluster.name, user: user.name)
        if let key = keys[id] { return key }
        let reason = keyProblems[id]?.message ?? "no key was read from \(user.keyFile)"
        throw TetherError(
            .cephBadKeyFile, "no usable key for \(id): \(reason)",
            hint: "write the base64 key (`ceph auth print-key \(user.entity)`) to \(user.keyFile) with mode 0600, then run `tether cluster sync`")
    }

    /// Adds `cluster`.
    /// - Throws: `conflict` when its name or fsid is already registered, or when one of its libvirt
    ///   secret UUIDs is already another user's (libvirt keeps one usage per UUID).
    public mutating func insert(_ cluster: CephCluster) throws {
        if self.cluster(named: cluster.name) != nil {
            throw TetherError(.conflict, "cluster \(cluster.name) is already registered")
        }
        if let other = clusters.first(where: { $0.fsid == cluster.fsid }) {
            throw TetherError(
                .conflict, "cluster \(cluster.name) has the fsid \(cluster.fsid.lowercased) of cluster \(other.name)",
                hint: "register each Ceph cluster once; give it more users instead of a second name")
        }
        let taken = Dictionary(
            clusters.flatMap { other in other.users.map { (other.secretUUID(for: $0), CephUserID(cluster: other.name, user: $0.name)) } },
            uniquingKeysWith: { first, _ in first })
        var mine: [UUID: String] = [:]
        for user in cluster.users {
            let uuid = cluster.secretUUID(for: user)
            if let owner = taken[uuid]?.description ?? mine[uuid] {
                throw TetherError(
                    .conflict, "secret_uuid \(uuid.lowercased) of client.\(user.name) in cluster \(cluster.name) is already that of \(owner)",
                    hint: "each (cluster, user) needs its own libvirt secret: give this user another secret_uuid, or leave it out to derive one")
            }
            mine[uuid] = "client.\(user.name) of cluster \(cluster.name)"
        }
        clusters.append(cluster)
        clusters.sort { $0.name < $1.name }
    }

    /// Sets the key of an existing user.
    /// - Throws: `invalid_input` when the user is not registered or the key is not a cephx key.
    public mutating func setKey(_ key: Secret, for id: CephUserID) throws {
        guard cluster(named: id.cluster)?.user(named: id.user) != nil else {
            throw TetherError.invalidInput("there is no \(id) to give a key to")
        }
        if let problem = CephKey.problem(with: key) {
            throw TetherError.invalidInput("the key of \(id) is unusable: \(problem)")
        }
        keys[id] = key
        keyProblems[id] = nil
    }

    mutating func noteKeyProblem(_ problem: ConfigurationError, for id: CephUserID) {
        keyProblems[id] = problem
        problems.append(problem)
    }
}
