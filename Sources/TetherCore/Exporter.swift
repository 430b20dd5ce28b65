/// A block volume as the target side sees it.
public struct ExportVolume: Sendable, Codable, Hashable {
    public var id: String
    /// A backing file or block device.
    public var path: String
    public var sizeBytes: UInt64?

    public init(id: String, path: String, sizeBytes: UInt64? = nil) {
        self.id = id
        self.path = path
        self.sizeBytes = sizeBytes
    }
}

/// One initiator allowed on an export, with the CHAP account made for it.
public struct ExportGrant: Sendable, Hashable {
    public var initiator: String
    public var chap: CHAPCredentials

    public init(initiator: String, chap: CHAPCredentials) {
        self.initiator = initiator
        self.chap = chap
    }
}

/// The whole wanted state of one exported volume. Exporters make the target match it, so the
/// same call creates, updates, repeats and restores after a target restart.
public struct ExportSpec: Sendable, Hashable {
    public var volume: ExportVolume
    /// The target's number in the exporter (tgt's tid).
    public var targetNumber: Int
    public var targetIQN: String
    public var lun: Int
    /// The SCSI id (at most 31 hex digits) the LUN reports; its NAA WWID is "6" + this.
    public var scsiID: String
    public var grants: [ExportGrant]

    public init(volume: ExportVolume, targetNumber: Int, targetIQN: String, lun: Int, scsiID: String, grants: [ExportGrant]) {
        self.volume = volume
        self.targetNumber = targetNumber
        self.targetIQN = targetIQN
        self.lun = lun
        self.scsiID = scsiID
        self.grants = grants
    }

    /// The LUN's WWID as VPD page 0x83 reports it (NAA-6, lowercase hex).
    public var wwid: String { "6" + scsiID }

    /// The SCSI id for a volume: the volume id's digest, so it is stable and distinct across nodes.
    public static func scsiID(forVolume id: String) -> String {
        String(SHA256.hex(of: Array("tether-volume:\(id)".utf8)).prefix(31))
    }

    /// The os-brick iscsi connection_info for `grant`, listing every portal.
    public func connectionInfo(for grant: ExportGrant, portals: [Portal]) -> ConnectionInfo {
        let portalValues = portals.map { JSONValue.string($0.description) }
        var data: [String: JSONValue] = [
            "target_discovered": false,
            "target_portal": portalValues.first ?? .null,
            "target_iqn": .string(targetIQN),
            "target_lun": .int(Int64(lun)),
            "target_portals": .array(portalValues),
            "target_iqns": .array(portals.map { _ in .string(targetIQN) }),
            "target_luns": .array(portals.map { _ in .int(Int64(lun)) }),
            "volume_id": .string(volume.id),
            "auth_method": "CHAP",
            "auth_username": .string(grant.chap.username),
            "access_mode": "rw",
            "encrypted": false,
            "discard": false,
            "qos_specs": nil,
        ]
        data["auth_password"] = grant.chap.password.reveal { .string($0) }
        return ConnectionInfo(driverVolumeType: "iscsi", data: data)
    }
}

/// The target side of initialize/terminate connection.
public protocol Exporter: Sendable {
    /// The portals this node's target serves, as connection_info lists them.
    var portals: [Portal] { get }
    /// Makes the target match `spec`: creates what is missing, removes grants not in it.
    func apply(_ spec: ExportSpec) async throws
    /// Removes the target of `spec` and everything made for it. Gone already is fine.
    func remove(_ spec: ExportSpec) async throws
}

/// An exporter whose target numbers other tools may also use, so new exports must avoid them.
public protocol TargetNumbering: Sendable {
    func takenTargetNumbers() async throws -> Set<Int>
}
