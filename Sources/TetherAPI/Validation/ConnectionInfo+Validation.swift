import TetherCore

/// The connection_info checks: every key Tether reads, with os-brick's defaults where os-brick
/// has one, and `encrypted` refused.
///
/// os-brick's reading, followed here (os_brick/initiator/connectors/base_iscsi.py
/// `_get_all_targets`, `_get_luns`; iscsi.py; rbd.py):
/// - `target_portals` + `target_iqns` (+ `target_luns`, else `target_lun` for every portal);
///   else the single `target_portal`, `target_iqn`, and `target_lun` defaulting to 0;
/// - `auth_method` absent or empty: no CHAP; then `auth_username`/`auth_password`;
///   `discovery_auth_method` likewise with `discovery_auth_*`;
/// - `access_mode` absent: rw; `encrypted` absent: false (os_brick/encryptors `get_encryption_metadata`);
/// - rbd: `name` is "pool/image", `hosts` and `ports` are parallel lists (ports may be strings),
///   `auth_username`, `cluster_name`, `keyring` optional; `cluster_fsid` (a UUID) is Tether's own
///   (its exports send it; Cinder does not).
extension ConnectionInfo {
    /// Checks every value Tether will use.
    /// - Throws: `unsupported` for an encrypted volume; `invalid_input` naming the field otherwise.
    public func validate(field: FieldPath = "connection_info") throws {
        let data = shape == .nested ? field.key("data") : field
        try refuseEncrypted(field: field)
        try TextGrammar.check(driverVolumeType, field: field.key("driver_volume_type"), maximumBytes: 64)
        if let volumeID = self.data["volume_id"], !volumeID.isNull {
            try IdentifierGrammar.volumeID.check(try Self.string(volumeID, data.key("volume_id")), field: data.key("volume_id"))
        }
        switch driverVolumeType.lowercased() {
        case "iscsi", "iser": try validateISCSI(data)
        case "rbd": try validateRBD(data)
        default: break  // the attachment service answers `unsupported`, naming the types it knows
        }
    }

    /// `encrypted: true` anywhere Cinder or Nova put it (in data, or beside it), as a boolean,
    /// a number or a string: Tether has no mode that sets up the LUKS layer, so the guest would
    /// get ciphertext.
    func refuseEncrypted(field: FieldPath) throws {
        let places: [(JSONValue?, FieldPath)] = [
            (data["encrypted"], shape == .nested ? field.key("data").key("encrypted") : field.key("encrypted")),
            (extra["encrypted"], field.key("encrypted")),
        ]
        for case let (value?, place) in places where !value.isNull {
            guard let encrypted = value.boolValue else {
                throw TetherError.invalidField(place, "\(value) is not a boolean", hint: "write true or false")
            }
            if encrypted {
                throw TetherError(
                    .unsupported, "\(place) is true: encrypted volumes are not supported; attaching it would hand the guest the raw ciphertext",
                    hint: "use an unencrypted volume type, or attach this volume through Nova, which sets up its LUKS layer")
            }
        }
    }

    static func string(_ value: JSONValue, _ field: FieldPath) throws -> String {
        guard let text = value.stringValue else {
            throw TetherError.invalidField(field, "must be a string, not \(NumberGrammar.kind(value))", hint: "see README.md, section API")
        }
        return text
    }

    private func optionalString(_ key: String, _ base: FieldPath) throws -> String? {
        guard let value = data[key], !value.isNull else { return nil }
        return try Self.string(value, base.key(key))
    }

    private func list(_ key: String, _ base: FieldPath) throws -> [JSONValue]? {
        guard let value = data[key], !value.isNull else { return nil }
        guard let items = value.arrayValue else {
            throw TetherError.invalidField(base.key(key), "must be a list, not \(NumberGrammar.kind(value))", hint: "see README.md, section API")
        }
        guard items.count <= 64 else {
            throw TetherError.invalidField(base.key(key), "has \(items.count) entries, more than 64", hint: "list each path once")
        }
        return items
    }

    private func validateISCSI(_ base: FieldPath) throws {
        if let portal = try optionalString("target_portal", base) {
            _ = try AddressGrammar.checkPortal(portal, field: base.key("target_portal"))
        }
        if let iqn = try optionalString("target_iqn", base), !iqn.isEmpty {
            try ISCSINameGrammar.check(iqn, field: base.key("target_iqn"), what: "a target name")
        }
        if let lun = data["target_lun"], !lun.isNull {
            _ = try NumberGrammar.check(lun, field: base.key("target_lun"), range: NumberGrammar.lun, what: "a LUN")
        }
        for (index, portal) in (try list("target_portals", base) ?? []).enumerated() {
            _ = try AddressGrammar.checkPortal(try Self.string(portal, base.key("target_portals").index(index)), field: base.key("target_portals").index(index))
        }
        for (index, iqn) in (try list("target_iqns", base) ?? []).enumerated() {
            let field = base.key("target_iqns").index(index)
            try ISCSINameGrammar.check(try Self.string(iqn, field), field: field, what: "a target name")
        }
        for (index, lun) in (try list("target_luns", base) ?? []).enumerated() {
            _ = try NumberGrammar.check(lun, field: base.key("target_luns").index(index), range: NumberGrammar.lun, what: "a LUN")
        }
        if let method = try optionalString("auth_method", base) {
            try TextGrammar.check(method, field: base.key("auth_method"), maximumBytes: 16, allowEmpty: true)
        }
        if let method = try optionalString("discovery_auth_method", base) {
            try TextGrammar.check(method, field: base.key("discovery_auth_method"), maximumBytes: 16, allowEmpty: true)
        }
        for prefix in ["auth", "target_auth", "discovery_auth"] {
            if let user = try optionalString("\(prefix)_username", base), !user.isEmpty {
                try CHAPGrammar.checkUser(user, field: base.key("\(prefix)_username"))
            }
            if let secret = try optionalString("\(prefix)_password", base), !secret.isEmpty {
                try CHAPGrammar.checkSecret(secret, field: base.key("\(prefix)_password"))
            }
        }
        if let mode = try optionalString("access_mode", base) {
            try TextGrammar.check(mode, field: base.key("access_mode"), maximumBytes: 8, allowEmpty: true)
        }
    }

    private func validateRBD(_ base: FieldPath) throws {
        if let name = try optionalString("name", base) {
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                try TextGrammar.check(name, field: base.key("name"), maximumBytes: 257)
                throw TetherError.invalidField(base.key("name"), "\"\(name)\" is not pool/image", hint: "Cinder's rbd driver sends \"<pool>/volume-<uuid>\"")
            }
            try IdentifierGrammar.poolName.check(String(parts[0]), field: base.key("name"))
            try IdentifierGrammar.imageName.check(String(parts[1]), field: base.key("name"))
        }
        for (index, host) in (try list("hosts", base) ?? []).enumerated() {
            let field = base.key("hosts").index(index)
            try AddressGrammar.checkHost(try Self.string(host, field), field: field)
        }
        for (index, port) in (try list("ports", base) ?? []).enumerated() {
            _ = try NumberGrammar.check(port, field: base.key("ports").index(index), range: NumberGrammar.port, what: "a port")
        }
        if let cluster = try optionalString("cluster_name", base) {
            try IdentifierGrammar.clusterName.check(cluster, field: base.key("cluster_name"))
        }
        if let fsid = try optionalString("cluster_fsid", base), !fsid.isEmpty {
            try UUIDGrammar.check(fsid, field: base.key("cluster_fsid"))
        }
        if let user = try optionalString("auth_username", base) {
            try IdentifierGrammar.cephUser.check(user, field: base.key("auth_username"))
        }
        if let uuid = try optionalString("secret_uuid", base), !uuid.isEmpty {
            try UUIDGrammar.check(uuid, field: base.key("secret_uuid"))
        }
        if let type = try optionalString("secret_type", base) {
            try TextGrammar.check(type, field: base.key("secret_type"), maximumBytes: 32, allowEmpty: true)
        }
        if let keyring = try optionalString("keyring", base) {
            // A keyring is "[client.x]\n\tkey = ..." text: line breaks and tabs are its syntax.
            try TextGrammar.check(keyring, field: base.key("keyring"), maximumBytes: 16_384, allowing: ["\n", "\t", "\r"])
        }
        if let mode = try optionalString("access_mode", base) {
            try TextGrammar.check(mode, field: base.key("access_mode"), maximumBytes: 8, allowEmpty: true)
        }
    }
}
