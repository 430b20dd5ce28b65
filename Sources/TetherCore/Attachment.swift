/// How a volume is made usable on this node.
public enum AttachMode: String, Sendable, Codable, CaseIterable {
    /// A host block device (/dev/sdX, /dev/dm-N, /dev/rbdN) with a stable name.
    case kernel
    /// No host device: verified, and described for QEMU to connect itself.
    case network
}

/// What a connector needs to attach one volume.
public struct AttachRequest: Sendable {
    public var attachmentID: String
    public var volumeID: String
    public var connectionInfo: ConnectionInfo
    public var mode: AttachMode
    public var accessMode: AccessMode
    public var connector: ConnectorProperties
    /// The operator's force: take over a volume another client uses, once that client is fenced
    /// (RBD; see `RBDClaim`).
    public var force: Bool
    /// With `force`: break another client's lock instead of asking for it to be fenced first.
    public var breakLock: Bool
    /// Who asked (the API peer's credentials), for the log lines of a forced take-over.
    public var requestedBy: String

    public init(
        attachmentID: String, volumeID: String, connectionInfo: ConnectionInfo, mode: AttachMode, accessMode: AccessMode, connector: ConnectorProperties,
        force: Bool = false, breakLock: Bool = false, requestedBy: String = "unknown"
    ) {
        self.attachmentID = attachmentID
        self.volumeID = volumeID
        self.connectionInfo = connectionInfo
        self.mode = mode
        self.accessMode = accessMode
        self.connector = connector
        self.force = force
        self.breakLock = breakLock
        self.requestedBy = requestedBy
    }
}

/// What a connector made: enough to describe it to QEMU and libvirt and to undo it.
/// Holds no secret; secrets live in 0600 files named in `secretFiles`.
public struct AttachedVolume: Sendable, Codable, Hashable {
    public struct Path: Sendable, Codable, Hashable {
        public var portal: String
        public var target: String
        public var lun: Int?
        public var state: String

        public init(portal: String, target: String, lun: Int?, state: String) {
            self.portal = portal
            self.target = target
            self.lun = lun
            self.state = state
        }
    }

    public var protocolName: String
    public var mode: AttachMode
    public var paths: [Path]
    public var wwid: String?
    public var sizeBytes: UInt64
    public var blockSize: UInt32?
    public var devicePath: String?
    public var diskXML: String
    /// The QEMU `-blockdev` tree for the volume (format node over protocol node).
    public var qemuBlockdev: JSONValue
    /// `-object` definitions the blockdev refers to (secrets), in order.
    public var qemuObjects: [JSONValue]
    public var secretFiles: [String]
    /// libvirt secrets the attach defined (network iSCSI's CHAP secret): detach undefines them.
    public var libvirtSecrets: [DefinedLibvirtSecret] = []
    /// What the connector made, in its own terms: what the reconciler checks and detach undoes.
    public var handle: ConnectorHandle

    public init(
        protocolName: String, mode: AttachMode, paths: [Path], wwid: String?, sizeBytes: UInt64, blockSize: UInt32?, devicePath: String?,
        diskXML: String, qemuBlockdev: JSONValue, qemuObjects: [JSONValue], secretFiles: [String], handle: ConnectorHandle = .none
    ) {
        self.protocolName = protocolName
        self.mode = mode
        self.paths = paths
        self.wwid = wwid
        self.sizeBytes = sizeBytes
        self.blockSize = blockSize
        self.devicePath = devicePath
        self.diskXML = diskXML
        self.qemuBlockdev = qemuBlockdev
        self.qemuObjects = qemuObjects
        self.secretFiles = secretFiles
        self.handle = handle
    }

    enum CodingKeys: String, CodingKey {
        case protocolName, mode, paths, wwid, sizeBytes, blockSize, devicePath, diskXML, qemuBlockdev, qemuObjects, secretFiles, libvirtSecrets, handle
        /// Results journaled before handles: the connector's facts as an untyped object.
        case details
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        protocolName = try container.decode(String.self, forKey: .protocolName)
        mode = try container.decode(AttachMode.self, forKey: .mode)
        paths = try container.decode([Path].self, forKey: .paths)
        wwid = try container.decodeIfPresent(String.self, forKey: .wwid)
        sizeBytes = try container.decode(UInt64.self, forKey: .sizeBytes)
        blockSize = try container.decodeIfPresent(UInt32.self, forKey: .blockSize)
        devicePath = try container.decodeIfPresent(String.self, forKey: .devicePath)
        diskXML = try container.decode(String.self, forKey: .diskXML)
        qemuBlockdev = try container.decode(JSONValue.self, forKey: .qemuBlockdev)
        qemuObjects = try container.decode([JSONValue].self, forKey: .qemuObjects)
        secretFiles = try container.decode([String].self, forKey: .secretFiles)
        // Results journaled before Tether defined libvirt secrets for attachments have none.
        libvirtSecrets = try container.decodeIfPresent([DefinedLibvirtSecret].self, forKey: .libvirtSecrets) ?? []
        if let handle = try container.decodeIfPresent(ConnectorHandle.self, forKey: .handle) {
            self.handle = handle
        } else {
            handle = try Self.legacyHandle(protocolName: protocolName, mode: mode, paths: paths, container)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(protocolName, forKey: .protocolName)
        try container.encode(mode, forKey: .mode)
        try container.encode(paths, forKey: .paths)
        try container.encodeIfPresent(wwid, forKey: .wwid)
        try container.encode(sizeBytes, forKey: .sizeBytes)
        try container.encodeIfPresent(blockSize, forKey: .blockSize)
        try container.encodeIfPresent(devicePath, forKey: .devicePath)
        try container.encode(diskXML, forKey: .diskXML)
        try container.encode(qemuBlockdev, forKey: .qemuBlockdev)
        try container.encode(qemuObjects, forKey: .qemuObjects)
        try container.encode(secretFiles, forKey: .secretFiles)
        if !libvirtSecrets.isEmpty { try container.encode(libvirtSecrets, forKey: .libvirtSecrets) }
        try container.encode(handle, forKey: .handle)
    }

    /// The typed handle of a result journaled before handles existed, from its `details`.
    static func legacyHandle(protocolName: String, mode: AttachMode, paths: [Path], _ container: KeyedDecodingContainer<CodingKeys>) throws -> ConnectorHandle {
        guard let details = try container.decodeIfPresent(JSONValue.self, forKey: .details), let object = details.objectValue, !object.isEmpty else {
            return .none
        }
        switch (protocolName, mode) {
        case ("iscsi", .kernel), ("iser", .kernel):
            return .kernelISCSI(try KernelISCSIHandle(legacy: details, paths: paths))
        case ("rbd", .kernel):
            // A cut-off attach that never read its request journaled only volume_id.
            guard object["pool"] != nil else { return .none }
            return .kernelRBD(try container.decode(KernelRBDHandle.self, forKey: .details))
        case ("rbd", .network):
            return .networkRBD(try container.decode(NetworkRBDHandle.self, forKey: .details))
        default:
            return .none
        }
    }
}

/// One protocol in one mode: makes a volume usable here, and undoes it.
///
/// Implementations read like the protocol they implement and reach the machine only through `Host`.
public protocol Connector: Reconciling {
    /// The `driver_volume_type` values this connector takes.
    var driverVolumeTypes: Set<String> { get }
    var mode: AttachMode { get }

    func attach(_ request: AttachRequest) async throws -> AttachedVolume
    /// Undoes `attach`. Safe to repeat: what is already gone is not an error.
    func detach(_ volume: AttachedVolume, attachmentID: String, force: Bool) async throws
    /// Secret files an attach of `attachmentID` may have written, so an attach cut off before
    /// its result was journaled can still be rolled back.
    func secretFiles(forAttachment attachmentID: String) -> [String]
    /// What an attach of `request` cut off before its result was known may have left, for
    /// `detach` to undo: kernel connectors name the paths (portal, target, LUN) or the mapping
    /// from the request, so a crash between login and device discovery leaves no session behind.
    /// The request's connection info may have its secrets redacted.
    func interruptedAttach(_ request: AttachRequest) -> AttachedVolume
    /// Makes the host see a volume the storage grew, and answers its new size in bytes.
    /// - Throws: `unsupported` for connectors that hold no host device.
    func extend(_ volume: AttachedVolume, attachmentID: String) async throws -> UInt64
}

extension Connector {
    public func secretFiles(forAttachment attachmentID: String) -> [String] { [] }

    public func interruptedAttach(_ request: AttachRequest) -> AttachedVolume {
        .partial(protocolName: request.connectionInfo.driverVolumeType.lowercased(), mode: mode, secretFiles: secretFiles(forAttachment: request.attachmentID))
    }

    public func extend(_ volume: AttachedVolume, attachmentID: String) async throws -> UInt64 {
        throw TetherError(
            .unsupported, "\(volume.protocolName) attachments in \(mode.rawValue) mode cannot be extended here",
            hint: "in network mode QEMU sees the new size itself (block_resize)")
    }
}

extension AttachedVolume {
    /// A volume known only by what an attach may have left: its secret files and, for kernel
    /// connectors, the paths it may have logged in to.
    public static func partial(protocolName: String, mode: AttachMode, paths: [Path] = [], secretFiles: [String], handle: ConnectorHandle = .none) -> AttachedVolume {
        AttachedVolume(
            protocolName: protocolName, mode: mode, paths: paths, wwid: nil, sizeBytes: 0, blockSize: nil, devicePath: nil, diskXML: "",
            qemuBlockdev: .null, qemuObjects: [], secretFiles: secretFiles, handle: handle)
    }
}
