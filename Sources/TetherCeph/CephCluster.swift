import Foundation
import TetherCore

/// A Ceph cluster this node knows: one registry file, `clusters.d/<name>.toml`.
///
/// Every value is checked when it is made, so code that holds a `CephCluster` can put its name
/// in file names and its monitors in a conf file without checking again.
public struct CephCluster: Sendable, Hashable {
    /// The name Tether and Cinder (`rbd_cluster_name`) know it by; also the stem of its files.
    public let name: String
    public let fsid: UUID
    public let monitors: [CephMonitor]
    /// Sorted by name; names are unique.
    public let users: [CephUser]
    /// The `default_user` of the file; see `defaultUser`.
    public let defaultUserName: String?

    /// - Throws: `invalid_input` naming what is wrong: the name, no monitors, no users, a user twice,
    ///   a default user that is not a user.
    public init(name: String, fsid: UUID, monitors: [CephMonitor], users: [CephUser], defaultUser: String? = nil) throws {
        try Self.validate(name: name)
        guard !monitors.isEmpty else {
            throw TetherError.invalidInput("cluster \(name) has no monitors", hint: CephMonitorAddress.monitorHint)
        }
        guard !users.isEmpty else {
            throw TetherError.invalidInput("cluster \(name) has no users", hint: "add a [user.NAME] table with its key_file")
        }
        let sorted = users.sorted { $0.name < $1.name }
        for (first, second) in zip(sorted, sorted.dropFirst()) where first.name == second.name {
            throw TetherError.invalidInput("cluster \(name) lists user \(first.name) twice")
        }
        if let defaultUser, !sorted.contains(where: { $0.name == defaultUser }) {
            throw TetherError.invalidInput("the default user \(defaultUser) of cluster \(name) is not one of its users (\(sorted.map(\.name).joined(separator: ", ")))")
        }
        self.name = name
        self.fsid = fsid
        self.monitors = monitors
        self.users = sorted
        self.defaultUserName = defaultUser
    }

    public func user(named name: String) -> CephUser? {
        users.first { $0.name == name }
    }

    /// The user for requests that name none: `default_user`, or the only user.
    public var defaultUser: CephUser? {
        if let defaultUserName { return user(named: defaultUserName) }
        return users.count == 1 ? users[0] : nil
    }

    /// Every monitor address, v2 and v1.
    public var portals: [Portal] { monitors.flatMap(\.portals) }

    /// The `mon host` value in Ceph's syntax.
    public var monHost: String { CephMonitor.monHost(monitors) }

    /// Checks a cluster name: 1-63 of A-Z a-z 0-9 `_` `-`, not starting with `-`. No dots, so
    /// `<cluster>.client.<user>.keyring` splits back into cluster and user.
    public static func validate(name: String) throws {
        guard (1...63).contains(name.count), !name.hasPrefix("-"),
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
        else {
            throw TetherError.invalidInput("Ceph cluster name \"\(name)\" is not 1-63 of A-Z a-z 0-9 _ - (not starting with -)", hint: "it names files such as <name>.conf, so it must be a plain word")
        }
    }
}
