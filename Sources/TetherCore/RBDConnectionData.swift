import Foundation

/// The RBD `data` of a connection_info, checked and typed.
///
/// Cinder's RBD driver sends `name` as "pool/image", `hosts` and `ports` (ports as strings, the
/// monitors' v1 ports), `cluster_name`, `auth_enabled`, `auth_username`, `secret_type`,
/// `secret_uuid`; cinderlib-style payloads add an inline `keyring`. Tether's own exports
/// (`RBDExporter`) add `cluster_fsid`, which Cinder does not send.
public struct RBDConnectionData: Sendable {
    public var pool: String
    public var image: String
    public var monitors: [Portal]
    public var clusterName: String?
    /// The cluster's fsid (`cluster_fsid`): names the cluster whatever a node calls it.
    public var clusterFSID: UUID?
    public var authEnabled: Bool
    public var authUsername: String?
    public var secretType: String?
    public var secretUUID: String?
    public var keyring: Secret?
    public var volumeID: String?
    public var accessMode: AccessMode
    public var discard: Bool

    public init(_ info: ConnectionInfo) throws {
        guard info.driverVolumeType.lowercased() == "rbd" else {
            throw TetherError.invalidInput("connection_info is \(info.driverVolumeType), not rbd")
        }
        let data = info.data
        let what = "rbd connection_info.data"
        func string(_ key: String) throws -> String? {
            guard let value = data[key], !value.isNull else { return nil }
            guard let text = value.stringValue else {
                throw TetherError.invalidInput("\(what).\(key) must be a string")
            }
            return text
        }
        guard let name = try string("name") else {
            throw TetherError.missingField("name", in: what)
        }
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw TetherError.invalidInput("\(what).name \"\(name)\" is not pool/image")
        }
        pool = String(parts[0])
        image = String(parts[1])

        let hosts = data["hosts"]?.arrayValue ?? []
        let ports = data["ports"]?.arrayValue ?? []
        if !ports.isEmpty, ports.count != hosts.count {
            throw TetherError.invalidInput("\(what) has \(hosts.count) hosts but \(ports.count) ports")
        }
        monitors = try hosts.indices.map { index in
            guard let host = hosts[index].stringValue else {
                throw TetherError.invalidInput("\(what).hosts[\(index)] must be a string")
            }
            let port = ports.isEmpty ? 6789 : ports[index].intValue
            guard let port, (1...65535).contains(port) else {
                throw TetherError.invalidInput("\(what).ports[\(index)] is not a port")
            }
            return Portal(host: host, port: port)
        }
        clusterName = try string("cluster_name")
        // Empty as absent, as for secret_uuid: the key says nothing then.
        if let text = try string("cluster_fsid"), !text.isEmpty {
            guard let fsid = UUID(uuidString: text) else {
                throw TetherError.invalidInput("\(what).cluster_fsid \"\(text)\" is not a UUID")
            }
            clusterFSID = fsid
        }
        authEnabled = data["auth_enabled"]?.boolValue ?? false
        authUsername = try string("auth_username")
        secretType = try string("secret_type")
        secretUUID = try string("secret_uuid")
        keyring = try string("keyring").map(Secret.init)
        volumeID = try string("volume_id")
        accessMode = try AccessMode(connectionInfoValue: string("access_mode"))
        discard = data["discard"]?.boolValue ?? false
    }
}
