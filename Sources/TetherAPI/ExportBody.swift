import TetherCore

/// `POST /v1/exports`: initialize_connection of a volume for a connector.
public struct CreateExportRequest: Codable, Sendable {
    public struct Volume: Codable, Sendable {
        public var id: String
        /// iSCSI: a backing file or block device. A missing file is created sparse when
        /// `size_bytes` is given.
        public var path: String?
        public var sizeBytes: UInt64?
        /// RBD: the image in a registered Ceph cluster; the answer is Cinder's rbd connection_info.
        public var rbd: RBDImage?

        public init(id: String, path: String? = nil, sizeBytes: UInt64? = nil, rbd: RBDImage? = nil) {
            self.id = id
            self.path = path
            self.sizeBytes = sizeBytes
            self.rbd = rbd
        }

        enum CodingKeys: String, CodingKey {
            case id, path, rbd
            case sizeBytes = "size_bytes"
        }

        /// `size_bytes` is read as any JSON number and range-checked here, so -1, 2^64 or 1e300
        /// answer `invalid_input` naming the field instead of a decoder's type error.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decode(String.self, forKey: .id)
            path = try container.decodeIfPresent(String.self, forKey: .path)
            rbd = try container.decodeIfPresent(RBDImage.self, forKey: .rbd)
            if let size = try container.decodeIfPresent(JSONValue.self, forKey: .sizeBytes), !size.isNull {
                let bytes = try NumberGrammar.check(size, field: "volume.size_bytes", range: NumberGrammar.sizeBytes, what: "size_bytes")
                sizeBytes = UInt64(exactly: bytes)
            }
        }
    }

    /// An RBD image named by cluster (as registered), pool and image, and the user to give out
    /// (the cluster's default user when absent).
    public struct RBDImage: Codable, Sendable, Hashable {
        public var cluster: String
        public var pool: String
        public var image: String
        public var user: String?

        public init(cluster: String, pool: String, image: String, user: String? = nil) {
            self.cluster = cluster
            self.pool = pool
            self.image = image
            self.user = user
        }
    }

    public var volume: Volume
    public var connector: ConnectorProperties

    public init(volume: Volume, connector: ConnectorProperties) {
        self.volume = volume
        self.connector = connector
    }
}

/// The answer to `POST /v1/exports`: Cinder's connection_info (with the CHAP password) and what
/// the export now is.
public struct ExportResponse: Codable, Sendable {
    public var connectionInfo: ConnectionInfo
    public var export: ExportBody

    public init(connectionInfo: ConnectionInfo, export: ExportBody) {
        self.connectionInfo = connectionInfo
        self.export = export
    }

    enum CodingKeys: String, CodingKey {
        case connectionInfo = "connection_info"
        case export
    }
}

/// An export as the API shows it; never with a password.
public struct ExportBody: Codable, Sendable, Hashable {
    /// "iscsi" (tgt target) or "rbd" (an image of a registered cluster: journaled, nothing to revoke
    /// in the cluster).
    public var protocolName: String
    public var volumeID: String
    public var path: String
    public var targetIQN: String
    public var lun: Int
    public var portals: [String]
    public var initiators: [String]
    public var wwid: String

    public init(protocolName: String = "iscsi", volumeID: String, path: String, targetIQN: String, lun: Int, portals: [String], initiators: [String], wwid: String) {
        self.protocolName = protocolName
        self.volumeID = volumeID
        self.path = path
        self.targetIQN = targetIQN
        self.lun = lun
        self.portals = portals
        self.initiators = initiators
        self.wwid = wwid
    }

    /// Older agents sent no "protocol": their exports were all iSCSI.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        protocolName = try container.decodeIfPresent(String.self, forKey: .protocolName) ?? "iscsi"
        volumeID = try container.decode(String.self, forKey: .volumeID)
        path = try container.decode(String.self, forKey: .path)
        targetIQN = try container.decode(String.self, forKey: .targetIQN)
        lun = try container.decode(Int.self, forKey: .lun)
        portals = try container.decode([String].self, forKey: .portals)
        initiators = try container.decode([String].self, forKey: .initiators)
        wwid = try container.decode(String.self, forKey: .wwid)
    }

    enum CodingKeys: String, CodingKey {
        case protocolName = "protocol"
        case volumeID = "volume_id"
        case path
        case targetIQN = "target_iqn"
        case lun, portals, initiators, wwid
    }
}

public struct ExportList: Codable, Sendable {
    public var exports: [ExportBody]
    public init(exports: [ExportBody]) { self.exports = exports }
}

/// `GET /v1/health`.
public struct HealthBody: Codable, Sendable {
    /// "ok", or "degraded" when some configuration could not be used (see `problems`).
    public var status: String
    public var version: String
    public var attachments: Int
    public var exports: Int
    /// Configuration the agent skipped: each names the file, the line and what is wrong.
    public var problems: [String]?

    public init(status: String, version: String, attachments: Int, exports: Int, problems: [String]? = nil) {
        self.status = status
        self.version = version
        self.attachments = attachments
        self.exports = exports
        self.problems = problems
    }
}

/// Every error body: `{"error": {"code", "message", "hint"}}`.
public struct ErrorBody: Codable, Sendable {
    public struct Detail: Codable, Sendable {
        public var code: String
        public var message: String
        public var hint: String?
        /// Only for an internal error: the id of its line in tetherd's log.
        public var id: String?
    }

    public var error: Detail

    public init(_ error: TetherError, id: String? = nil) {
        self.error = Detail(code: error.code.rawValue, message: error.message, hint: error.hint, id: id)
    }

    public var tetherError: TetherError {
        TetherError(TetherError.Code(rawValue: error.code), error.message, hint: error.hint)
    }
}

public enum TetherVersion {
    public static let current = "0.1.0"
}
