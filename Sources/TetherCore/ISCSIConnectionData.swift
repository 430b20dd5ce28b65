/// One way to a LUN: a portal, a target on it, and the LUN number.
public struct ISCSIPath: Sendable, Hashable, Codable, CustomStringConvertible {
    public var portal: Portal
    public var iqn: String
    public var lun: Int

    public init(portal: Portal, iqn: String, lun: Int) {
        self.portal = portal
        self.iqn = iqn
        self.lun = lun
    }

    public var description: String { "\(portal) \(iqn) lun \(lun)" }
}

/// A CHAP user and password.
public struct CHAPCredentials: Sendable, Hashable {
    public var username: String
    public var password: Secret

    public init(username: String, password: Secret) {
        self.username = username
        self.password = password
    }
}

/// The iSCSI `data` of a connection_info, checked and typed.
///
/// Follows os-brick's reading: `target_portals`/`target_iqns`/`target_luns` when present (a single
/// `target_iqn` or `target_lun` applies to every portal), else `target_portal`/`target_iqn`/`target_lun`.
/// Mutual CHAP uses Tether's `target_auth_username`/`target_auth_password`, which Cinder does not send.
public struct ISCSIConnectionData: Sendable {
    public static let driverVolumeTypes: Set<String> = ["iscsi", "iser"]

    public var paths: [ISCSIPath]
    /// True when the payload named only `target_portal`: the agent discovers the other portals.
    public var needsDiscovery: Bool
    public var chap: CHAPCredentials?
    public var mutualCHAP: CHAPCredentials?
    public var discoveryCHAP: CHAPCredentials?
    public var accessMode: AccessMode
    public var volumeID: String?
    public var encrypted: Bool

    public init(_ info: ConnectionInfo) throws {
        guard Self.driverVolumeTypes.contains(info.driverVolumeType.lowercased()) else {
            throw TetherError.invalidInput("connection_info is \(info.driverVolumeType), not iscsi")
        }
        let data = info.data
        let what = "iscsi connection_info.data"

        func string(_ key: String) throws -> String? {
            guard let value = data[key], !value.isNull else { return nil }
            guard let text = value.stringValue else {
                throw TetherError.invalidInput("\(what).\(key) must be a string")
            }
            return text
        }
        func lun(_ value: JSONValue, _ key: String) throws -> Int {
            // 0-65535: libiscsi carries a LUN in 16 bits (the API layer checks the same range).
            guard let lun = value.intValue, (0...65535).contains(lun) else {
                throw TetherError.invalidInput("\(what).\(key) must be a LUN number 0-65535, got \(value)")
            }
            return lun
        }
        func list(_ key: String) throws -> [JSONValue]? {
            guard let value = data[key], !value.isNull else { return nil }
            guard let items = value.arrayValue else {
                throw TetherError.invalidInput("\(what).\(key) must be a list")
            }
            return items
        }
        func credentials(user userKey: String, password passwordKey: String) throws -> CHAPCredentials? {
            guard let user = try string(userKey), !user.isEmpty else { return nil }
            guard let password = try string(passwordKey), !password.isEmpty else {
                throw TetherError.invalidInput("\(what) has \(userKey) but no \(passwordKey)")
            }
            return CHAPCredentials(username: user, password: Secret(password))
        }

        let singleIQN = try string("target_iqn")
        let singleLUN = try data["target_lun"].map { try lun($0, "target_lun") }
        if let portals = try list("target_portals"), !portals.isEmpty {
            let iqns = try list("target_iqns")
            let luns = try list("target_luns")
            if let iqns, iqns.count != portals.count {
                throw TetherError.invalidInput("\(what) has \(portals.count) target_portals but \(iqns.count) target_iqns")
            }
            if let luns, luns.count != portals.count {
                throw TetherError.invalidInput("\(what) has \(portals.count) target_portals but \(luns.count) target_luns")
            }
            paths = try portals.indices.map { index in
                guard let portalText = portals[index].stringValue else {
                    throw TetherError.invalidInput("\(what).target_portals[\(index)] must be a string")
                }
                guard let iqn = iqns.map({ $0[index].stringValue }) ?? singleIQN, !iqn.isEmpty else {
                    throw TetherError.missingField("target_iqn", in: what)
                }
                guard let lunValue = try luns.map({ try lun($0[index], "target_luns[\(index)]") }) ?? singleLUN else {
                    throw TetherError.missingField("target_lun", in: what)
                }
                return ISCSIPath(portal: try Portal(parsing: portalText), iqn: iqn, lun: lunValue)
            }
            needsDiscovery = false
        } else {
            guard let portal = try string("target_portal") else {
                throw TetherError.missingField("target_portal", in: what)
            }
            // os-brick reads a single-portal target_lun with get('target_lun', 0)
            // (base_iscsi.py _get_all_targets): Cinder drivers that export LUN 0 leave it out.
            // An empty IQN is legal here: discovery fills it in when the portal serves one target.
            paths = [ISCSIPath(portal: try Portal(parsing: portal), iqn: singleIQN ?? "", lun: singleLUN ?? 0)]
            needsDiscovery = true
        }

        switch try string("auth_method")?.uppercased() {
        case nil, "", "NONE":
            chap = nil
        case "CHAP":
            guard let creds = try credentials(user: "auth_username", password: "auth_password") else {
                throw TetherError.invalidInput("\(what).auth_method is CHAP but auth_username is missing")
            }
            chap = creds
        case let other?:
            throw TetherError.invalidInput("\(what).auth_method \(other) is not supported", hint: "use CHAP or leave auth_method out")
        }
        mutualCHAP = try credentials(user: "target_auth_username", password: "target_auth_password")
        if mutualCHAP != nil, chap == nil {
            throw TetherError.invalidInput("\(what) asks for mutual CHAP without CHAP", hint: "set auth_method CHAP with auth_username/auth_password")
        }
        discoveryCHAP = nil
        if let method = try string("discovery_auth_method"), method.uppercased() == "CHAP" {
            discoveryCHAP = try credentials(user: "discovery_auth_username", password: "discovery_auth_password")
        }
        accessMode = try AccessMode(connectionInfoValue: string("access_mode"))
        volumeID = try string("volume_id")
        // os-brick's default (encryptors get_encryption_metadata): absent means not encrypted.
        encrypted = data["encrypted"]?.boolValue ?? info.extra["encrypted"]?.boolValue ?? false
    }
}

/// Read-write or read-only, as Cinder's `access_mode` and `attach_mode` spell it.
public enum AccessMode: String, Sendable, Codable {
    case readWrite = "rw"
    case readOnly = "ro"

    public init(connectionInfoValue value: String?) throws {
        switch value?.lowercased() {
        case nil, "", "rw", "null": self = .readWrite
        case "ro": self = .readOnly
        case let other?: throw TetherError.invalidInput("access_mode \(other) is neither rw nor ro")
        }
    }
}
