/// What one connector made on this node, in its own terms: enough to check it against the host
/// later (the reconciler) and to undo it (detach). Journaled inside `AttachedVolume`; holds no
/// secret (secret files are named, never read into it).
///
/// Encoded flat with a `kind` key: `{"kind": "kernel_rbd", "pool": ..., ...}`. Results journaled
/// before the handle existed carry the same facts under `details` with the same keys (kernel iSCSI
/// excepted: see `KernelISCSIHandle.init(legacy:paths:)`); `AttachedVolume` reads both.
public enum ConnectorHandle: Sendable, Hashable {
    /// Nothing on the host beyond the attachment's secret files (network iSCSI without CHAP, a
    /// record from before the attach produced anything).
    case none
    case kernelISCSI(KernelISCSIHandle)
    case kernelRBD(KernelRBDHandle)
    case networkRBD(NetworkRBDHandle)

    public enum Kind: String, Sendable, Codable, CaseIterable {
        case none
        case kernelISCSI = "kernel_iscsi"
        case kernelRBD = "kernel_rbd"
        case networkRBD = "network_rbd"
    }

    public var kind: Kind {
        switch self {
        case .none: .none
        case .kernelISCSI: .kernelISCSI
        case .kernelRBD: .kernelRBD
        case .networkRBD: .networkRBD
        }
    }

    public var kernelISCSI: KernelISCSIHandle? {
        if case .kernelISCSI(let handle) = self { handle } else { nil }
    }

    public var kernelRBD: KernelRBDHandle? {
        if case .kernelRBD(let handle) = self { handle } else { nil }
    }

    public var networkRBD: NetworkRBDHandle? {
        if case .networkRBD(let handle) = self { handle } else { nil }
    }
}

extension ConnectorHandle: Codable {
    private enum KindKey: String, CodingKey { case kind }

    public init(from decoder: any Decoder) throws {
        let kind = try decoder.container(keyedBy: KindKey.self).decode(Kind.self, forKey: .kind)
        switch kind {
        case .none: self = .none
        case .kernelISCSI: self = .kernelISCSI(try KernelISCSIHandle(from: decoder))
        case .kernelRBD: self = .kernelRBD(try KernelRBDHandle(from: decoder))
        case .networkRBD: self = .networkRBD(try NetworkRBDHandle(from: decoder))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: KindKey.self)
        try container.encode(kind, forKey: .kind)
        switch self {
        case .none: break
        case .kernelISCSI(let handle): try handle.encode(to: encoder)
        case .kernelRBD(let handle): try handle.encode(to: encoder)
        case .networkRBD(let handle): try handle.encode(to: encoder)
        }
    }
}

/// Kernel iSCSI: the sessions per portal, the SCSI disks they brought, and the dm map over them.
public struct KernelISCSIHandle: Sendable, Codable, Hashable {
    /// One logged-in path.
    public struct Session: Sendable, Codable, Hashable {
        public var portal: String
        public var target: String
        public var lun: Int
        /// open-iscsi's session id (`iscsiadm -m session` SID, /sys/class/iscsi_session/sessionN).
        public var sid: Int?
        /// H:C:T:L of the SCSI disk.
        public var scsiAddress: String?
        /// The disk's kernel name (sdb).
        public var device: String?

        public init(portal: String, target: String, lun: Int, sid: Int?, scsiAddress: String?, device: String?) {
            self.portal = portal
            self.target = target
            self.lun = lun
            self.sid = sid
            self.scsiAddress = scsiAddress
            self.device = device
        }

        enum CodingKeys: String, CodingKey {
            case portal, target, lun, sid
            case scsiAddress = "scsi_address"
            case device
        }
    }

    public struct Map: Sendable, Codable, Hashable {
        /// The map's name (its WWID, or mpathN with user_friendly_names).
        public var name: String
        /// Its kernel name (dm-0).
        public var device: String
        /// Its dm uuid (mpath-<wwid>).
        public var uuid: String

        public init(name: String, device: String, uuid: String) {
            self.name = name
            self.device = device
            self.uuid = uuid
        }
    }

    public var volumeID: String
    public var sessions: [Session]
    /// Targets found by discovery whose portals died with an interrupted attach: any session of
    /// them may be this attachment's.
    public var anyPortalOf: [String]
    /// The LUN's WWID as udev names it (ID_WWN / scsi_id: 36001405...).
    public var scsiWWN: String?
    public var stableName: String?
    public var byTether: String?
    public var multipath: Map?
    /// Whether the sessions log in with CHAP (the passwords stay in open-iscsi's node records,
    /// never here): a node record that is gone cannot be made again then. Nil when the attach
    /// journaled before this was recorded.
    public var chap: Bool?

    public init(
        volumeID: String, sessions: [Session] = [], anyPortalOf: [String] = [], scsiWWN: String? = nil, stableName: String? = nil,
        byTether: String? = nil, multipath: Map? = nil, chap: Bool? = nil
    ) {
        self.volumeID = volumeID
        self.sessions = sessions
        self.anyPortalOf = anyPortalOf
        self.scsiWWN = scsiWWN
        self.stableName = stableName
        self.byTether = byTether
        self.multipath = multipath
        self.chap = chap
    }

    enum CodingKeys: String, CodingKey {
        case volumeID = "volume_id"
        case sessions
        case anyPortalOf = "any_portal_of"
        case scsiWWN = "scsi_wwn"
        case stableName = "stable_name"
        case byTether = "by_tether"
        case multipath
        case chap
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        volumeID = try container.decode(String.self, forKey: .volumeID)
        sessions = try container.decodeIfPresent([Session].self, forKey: .sessions) ?? []
        anyPortalOf = try container.decodeIfPresent([String].self, forKey: .anyPortalOf) ?? []
        scsiWWN = try container.decodeIfPresent(String.self, forKey: .scsiWWN)
        stableName = try container.decodeIfPresent(String.self, forKey: .stableName)
        byTether = try container.decodeIfPresent(String.self, forKey: .byTether)
        multipath = try container.decodeIfPresent(Map.self, forKey: .multipath)
        chap = try container.decodeIfPresent(Bool.self, forKey: .chap)
    }

    /// The handle of a result journaled before handles existed: `details` had parallel arrays
    /// (`devices`, `scsi_addresses`, `sessions` as SIDs) in the order of the active `paths`.
    public init(legacy details: JSONValue, paths: [AttachedVolume.Path]) throws {
        guard case .object(let object) = details, let volumeID = object["volume_id"]?.stringValue else {
            throw TetherError(.internalError, "a journaled kernel iSCSI result has no volume_id in its details")
        }
        let devices = object["devices"]?.arrayValue?.map(\.stringValue) ?? []
        let addresses = object["scsi_addresses"]?.arrayValue?.map(\.stringValue) ?? []
        let sids = object["sessions"]?.arrayValue?.map(\.intValue) ?? []
        let active = paths.filter { $0.state == "active" }
        self.init(
            volumeID: volumeID,
            sessions: active.enumerated().map { index, path in
                Session(
                    portal: path.portal, target: path.target, lun: path.lun ?? 0, sid: sids.indices.contains(index) ? sids[index] : nil,
                    scsiAddress: addresses.indices.contains(index) ? addresses[index] : nil, device: devices.indices.contains(index) ? devices[index] : nil)
            },
            anyPortalOf: object["any_portal_of"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            scsiWWN: object["scsi_wwn"]?.stringValue, stableName: object["stable_name"]?.stringValue, byTether: object["by_tether"]?.stringValue,
            multipath: object["multipath"]?.objectValue.flatMap { map in
                guard let name = map["name"]?.stringValue, let device = map["device"]?.stringValue, let uuid = map["uuid"]?.stringValue else { return nil }
                return Map(name: name, device: device, uuid: uuid)
            })
    }
}
