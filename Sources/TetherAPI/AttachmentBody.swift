import TetherCore

/// `POST /v1/attachments`: attach a volume on this node.
public struct CreateAttachmentRequest: Codable, Sendable {
    public var connectionInfo: ConnectionInfo
    /// Defaults to the volume id in connection_info.
    public var volumeID: String?
    /// Defaults to network.
    public var mode: AttachMode?
    /// Read-only attach regardless of connection_info's access_mode.
    public var readOnly: Bool?
    /// Take over a volume another client uses, once that client is fenced (RBD).
    public var force: Bool?
    /// With force: break the other client's exclusive lock instead (RBD).
    public var breakLock: Bool?

    public init(
        connectionInfo: ConnectionInfo, volumeID: String? = nil, mode: AttachMode? = nil, readOnly: Bool? = nil, force: Bool? = nil, breakLock: Bool? = nil
    ) {
        self.connectionInfo = connectionInfo
        self.volumeID = volumeID
        self.mode = mode
        self.readOnly = readOnly
        self.force = force
        self.breakLock = breakLock
    }

    enum CodingKeys: String, CodingKey {
        case connectionInfo = "connection_info"
        case volumeID = "volume_id"
        case mode
        case readOnly = "read_only"
        case force
        case breakLock = "break_lock"
    }
}

/// An attachment as the API shows it.
public struct AttachmentBody: Codable, Sendable, Hashable {
    public var id: String
    public var volumeID: String
    public var protocolName: String
    public var mode: AttachMode
    public var state: String
    /// What identifies the volume's target (for iSCSI: target IQN and LUN).
    public var target: String
    public var createdAt: String
    public var paths: [AttachedVolume.Path]
    public var wwid: String?
    public var sizeBytes: UInt64?
    public var devicePath: String?
    public var diskXML: String?
    public var qemu: QEMUBody?
    /// The connector's handle: what it made, in its terms (`kind` names which).
    public var details: JSONValue?
    /// How the attachment compared with the host when the reconciler last looked.
    public var status: AttachmentHealth?
    /// What was wrong then, one line each.
    public var problems: [String]?
    public var checkedAt: String?
    /// Why the last step failed, when it left the attachment unfinished.
    public var lastError: String?

    public struct QEMUBody: Codable, Sendable, Hashable {
        public var blockdev: JSONValue
        public var objects: [JSONValue]

        public init(blockdev: JSONValue, objects: [JSONValue]) {
            self.blockdev = blockdev
            self.objects = objects
        }
    }

    public init(
        id: String, volumeID: String, protocolName: String, mode: AttachMode, state: String, target: String, createdAt: String,
        paths: [AttachedVolume.Path], wwid: String?, sizeBytes: UInt64?, devicePath: String?, diskXML: String?, qemu: QEMUBody?,
        details: JSONValue? = nil, status: AttachmentHealth? = nil, problems: [String]? = nil, checkedAt: String? = nil, lastError: String? = nil
    ) {
        self.details = details
        self.status = status
        self.problems = problems
        self.checkedAt = checkedAt
        self.lastError = lastError
        self.id = id
        self.volumeID = volumeID
        self.protocolName = protocolName
        self.mode = mode
        self.state = state
        self.target = target
        self.createdAt = createdAt
        self.paths = paths
        self.wwid = wwid
        self.sizeBytes = sizeBytes
        self.devicePath = devicePath
        self.diskXML = diskXML
        self.qemu = qemu
    }

    enum CodingKeys: String, CodingKey {
        case id
        case volumeID = "volume_id"
        case protocolName = "protocol"
        case mode, state, target
        case createdAt = "created_at"
        case paths, wwid
        case sizeBytes = "size_bytes"
        case devicePath = "device_path"
        case diskXML = "disk_xml"
        case qemu, details, status, problems
        case checkedAt = "checked_at"
        case lastError = "last_error"
    }
}

public struct AttachmentList: Codable, Sendable {
    public var attachments: [AttachmentBody]
    public init(attachments: [AttachmentBody]) { self.attachments = attachments }
}
