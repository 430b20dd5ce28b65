import TetherCore

/// `POST /v1/local-attachments`: attach a Cinder volume on this node, Cinder driving the export.
public struct LocalAttachRequest: Codable, Sendable {
    public var volumeID: String
    /// Defaults to tether.toml `[local_attach] mode` (auto: kernel where the kernel has the driver).
    public var mode: AttachMode?
    /// Ask Cinder for every path (the connector's multipath flag); defaults to tether.toml.
    public var multipath: Bool?
    /// Attach read-only whatever the volume allows.
    public var readOnly: Bool?
    public var force: Bool?
    /// The caller's OpenStack credentials for this request, instead of tetherd's `[cinder]` ones.
    public var auth: CallerCredentials?

    public init(volumeID: String, mode: AttachMode? = nil, multipath: Bool? = nil, readOnly: Bool? = nil, force: Bool? = nil, auth: CallerCredentials? = nil) {
        self.auth = auth
        self.volumeID = volumeID
        self.mode = mode
        self.multipath = multipath
        self.readOnly = readOnly
        self.force = force
    }

    enum CodingKeys: String, CodingKey {
        case volumeID = "volume_id"
        case mode, multipath
        case readOnly = "read_only"
        case force, auth
    }
}

/// `DELETE /v1/local-attachments/<volume>`'s optional body: the caller's credentials, which
/// tetherd uses for Cinder instead of its own (it keeps none of a local-attach's).
public struct LocalDetachRequest: Codable, Sendable {
    public var auth: CallerCredentials?

    public init(auth: CallerCredentials? = nil) {
        self.auth = auth
    }
}

/// A Cinder volume attached here, as the API shows it.
public struct LocalAttachmentBody: Codable, Sendable, Hashable {
    public var volumeID: String
    /// "attachments" (Cinder's attachments API, 3.44+) or "legacy" (reserve / initialize_connection / attach).
    public var flow: String
    public var microversion: String
    public var cinderAttachmentID: String?
    /// attached, or where an unfinished attach or detach stands (rolling_back, detaching ...).
    public var state: String
    public var readOnly: Bool
    /// The local attachment: device or QEMU description.
    public var attachment: AttachmentBody?
    /// The last error of an operation the agent still has to finish (Cinder unreachable ...).
    public var pendingError: String?
    /// Time this request spent waiting for Cinder, and in all; for the benchmark's breakdown.
    public var timing: Timing?

    public struct Timing: Codable, Sendable, Hashable {
        public var cinderMilliseconds: Double
        public var totalMilliseconds: Double

        public init(cinderMilliseconds: Double, totalMilliseconds: Double) {
            self.cinderMilliseconds = cinderMilliseconds
            self.totalMilliseconds = totalMilliseconds
        }

        enum CodingKeys: String, CodingKey {
            case cinderMilliseconds = "cinder_ms"
            case totalMilliseconds = "total_ms"
        }
    }

    public init(
        volumeID: String, flow: String, microversion: String, cinderAttachmentID: String?, state: String, readOnly: Bool,
        attachment: AttachmentBody?, pendingError: String? = nil, timing: Timing? = nil
    ) {
        self.volumeID = volumeID
        self.flow = flow
        self.microversion = microversion
        self.cinderAttachmentID = cinderAttachmentID
        self.state = state
        self.readOnly = readOnly
        self.attachment = attachment
        self.pendingError = pendingError
        self.timing = timing
    }

    enum CodingKeys: String, CodingKey {
        case volumeID = "volume_id"
        case flow, microversion
        case cinderAttachmentID = "cinder_attachment_id"
        case state
        case readOnly = "read_only"
        case attachment
        case pendingError = "pending_error"
        case timing
    }
}

public struct LocalAttachmentList: Codable, Sendable {
    public var localAttachments: [LocalAttachmentBody]

    public init(localAttachments: [LocalAttachmentBody]) {
        self.localAttachments = localAttachments
    }

    enum CodingKeys: String, CodingKey {
        case localAttachments = "local_attachments"
    }
}

/// `DELETE /v1/local-attachments/<volume>`: what was done.
public struct LocalDetachResponse: Codable, Sendable, Hashable {
    public var volumeID: String
    /// False when nothing was attached (detaching again is not an error).
    public var detached: Bool
    public var timing: LocalAttachmentBody.Timing?

    public init(volumeID: String, detached: Bool, timing: LocalAttachmentBody.Timing? = nil) {
        self.volumeID = volumeID
        self.detached = detached
        self.timing = timing
    }

    enum CodingKeys: String, CodingKey {
        case volumeID = "volume_id"
        case detached, timing
    }
}

/// `POST /v1/cinder/connections/<volume>`: Cinder's initialize_connection for this node.
public struct CinderConnectionBody: Codable, Sendable {
    public var volumeID: String
    public var connector: ConnectorProperties
    /// Nested shape, as Nova stores it.
    public var connectionInfo: ConnectionInfo?

    public init(volumeID: String, connector: ConnectorProperties, connectionInfo: ConnectionInfo?) {
        self.volumeID = volumeID
        self.connector = connector
        self.connectionInfo = connectionInfo
    }

    enum CodingKeys: String, CodingKey {
        case volumeID = "volume_id"
        case connector
        case connectionInfo = "connection_info"
    }
}
