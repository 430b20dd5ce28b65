import TetherCore

/// Exactly the files Tether makes in the ceph directory for one cluster: `<cluster>.conf` and one
/// `<cluster>.client.<user>.keyring` (0600) per user whose key is known.
///
/// QEMU's rbd driver and librados read `conf=` and then `id=`. librados's cluster name stays
/// "ceph" there, so its default keyring search would find `ceph.client.<user>.keyring`, another
/// cluster's: the conf names each user's keyring in a `[client.<user>]` section instead.
public struct CephFileSet: Sendable, Hashable {
    /// The ceph directory of a stock node. Tether's files do not collide with `ceph.conf` unless
    /// a cluster is named "ceph"; even then Tether never replaces a file it did not write.
    public static let defaultDirectory = "/etc/ceph"
    /// The first line of every conf Tether writes; how `CephSyncPlan` knows which are Tether's.
    public static let header = "# written by tether; do not edit"

    public let conf: CephFile
    /// Sorted by user name.
    public let keyrings: [CephFile]

    /// Conf then keyrings.
    public var files: [CephFile] { [conf] + keyrings }

    /// The files for `cluster`, with the keys `registry` holds for its users.
    public init(_ cluster: CephCluster, registry: CephRegistry, cephDirectory: String) {
        conf = CephFile(
            path: Self.confPath(cluster: cluster.name, cephDirectory: cephDirectory), kind: .conf, mode: 0o644,
            contents: .text(Self.renderConf(cluster, cephDirectory: cephDirectory)))
        keyrings = cluster.users.compactMap { user in
            registry.key(for: user, in: cluster).map { key in
                CephFile(
                    path: Self.keyringPath(cluster: cluster.name, user: user.name, cephDirectory: cephDirectory), kind: .keyring, mode: 0o600,
                    contents: .secret(Self.renderKeyring(user: user, key: key)))
            }
        }
    }

    public static func confPath(cluster: String, cephDirectory: String) -> String {
        "\(cephDirectory)/\(cluster).conf"
    }

    public static func keyringPath(cluster: String, user: String, cephDirectory: String) -> String {
        "\(cephDirectory)/\(cluster).client.\(user).keyring"
    }

    /// A client conf: fsid, `mon host` in Ceph's syntax, and each user's keyring.
    ///
    /// ```
    /// # written by tether; do not edit
    /// # Ceph cluster ceph-a; its registry file is clusters.d/ceph-a.toml
    /// [global]
    /// 	fsid = 0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c
    /// 	mon host = [v2:10.0.0.1:3300,v1:10.0.0.1:6789],v1:10.0.0.2:6789
    ///
    /// [client.cinder]
    /// 	keyring = /etc/ceph/ceph-a.client.cinder.keyring
    /// ```
    public static func renderConf(_ cluster: CephCluster, cephDirectory: String) -> String {
        var lines = [
            header,
            "# Ceph cluster \(cluster.name); its registry file is clusters.d/\(cluster.name).toml",
            "[global]",
            "\tfsid = \(cluster.fsid.lowercased)",
            "\tmon host = \(cluster.monHost)",
        ]
        for user in cluster.users {
            lines += ["", "[\(user.entity)]", "\tkeyring = \(keyringPath(cluster: cluster.name, user: user.name, cephDirectory: cephDirectory))"]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `"[client.<user>]\n\tkey = <base64>\n"`, as a `Secret`.
    public static func renderKeyring(user: CephUser, key: Secret) -> Secret {
        CephKey.keyring(user: user.name, key: key)
    }
}
