import Foundation
import TetherCore

extension CephCluster {
    /// The libvirt secret UUID of `user` in this cluster: the user's `secret_uuid` when the file
    /// gives one (usually Cinder's `rbd_secret_uuid`), else `derivedSecretUUID(fsid:user:)`.
    public func secretUUID(for user: CephUser) -> UUID {
        user.secretUUID ?? Self.derivedSecretUUID(fsid: fsid, user: user.name)
    }

    /// A UUID that depends only on the cluster's fsid and the user name: every node that registers
    /// the cluster gets the same one whatever name it uses, so a live migration finds its secret.
    ///
    /// The first 16 bytes of SHA-256 over a fixed label, the fsid (lower case) and the user, with
    /// the version nibble 8 (custom) and the RFC 9562 variant bits.
    public static func derivedSecretUUID(fsid: UUID, user: String) -> UUID {
        var bytes = Array(SHA256.digest(Array("tether ceph secret\0\(fsid.lowercased)\0client.\(user)".utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0f) | 0x80
        bytes[8] = (bytes[8] & 0x3f) | 0x80
        return UUID(uuid: (
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }

    /// The usage name of the libvirt secret of `user`: "tether ceph-a client.cinder".
    ///
    /// libvirt refuses a second secret with the same usage name, and cluster names are unique on
    /// a node, so this is unique per (cluster, user); it names the cluster for `virsh secret-list`.
    public func secretUsage(for user: CephUser) -> String {
        "tether \(name) \(user.entity)"
    }
}

extension UUID {
    /// Lower case, as Ceph, Cinder and libvirt print UUIDs (Foundation prints upper case).
    var lowercased: String { uuidString.lowercased() }
}
