import Foundation
import TetherCore

extension CephCluster {
    /// The libvirt secret UUID of `user` in this cluster: the user's `secret_uuid` when the file
    /// gives one (usually Cinder's `rbd_secret_uuid`), else `derivedSecretUUID(fsid:user:)`.
    public func secretUUID(for user: CephUser) -> UUID {
        user.secretUUID ?? Self.derivedSecretUUID(fsid: fsid, user: user.name)
    }

    /// A UUID that depends only on the cluster's fsid and the user name: every node that registers
    /// the cluster gets the same one whatever name it uses.
    ///
    /// The first 16 bytes of SHA-256 over a fixed label, the fsid (lower case) and the user, with
    /// the version nibble 8 (custom) and the RFC 9562 variant bits.
    public static func derivedSecretUUID(fsid: UUID, user: String) -> UUID {
        UUID.derived(from: "tether ceph secret\0\(fsid.lowercased)\0client.\(user)")
    }

    /// The usage name of the libvirt secret of `user`: "tether ceph <fsid> client.cinder".
    ///
    /// It depends only on the fsid and the user, so it is the same on every node whatever the
    /// cluster is called there (or whatever `secret_uuid` a node gives), and a disk that names its
    /// secret by usage moves between nodes as it is. libvirt refuses a second secret with the same
    /// usage name, and a node registers an fsid once, so it is unique per (cluster, user).
    public func secretUsage(for user: CephUser) -> String {
        "tether ceph \(fsid.lowercased) \(user.entity)"
    }

    /// The usage name earlier versions gave ("tether <cluster> client.<user>"): a secret named so
    /// is Tether's own, moved to `secretUsage(for:)` by the next sync.
    public func legacySecretUsage(for user: CephUser) -> String {
        "tether \(name) \(user.entity)"
    }

    /// The secret's description, for `virsh secret-list`: it names the cluster as this node does.
    public func secretDescription(for user: CephUser) -> String {
        "Tether: \(user.entity) of Ceph cluster \(name) (\(fsid.lowercased))"
    }
}

extension UUID {
    /// Lower case, as Ceph, Cinder and libvirt print UUIDs (Foundation prints upper case).
    var lowercased: String { uuidString.lowercased() }
}
