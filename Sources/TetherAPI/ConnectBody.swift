import TetherCore

/// `POST /v1/connections`: the cross-node connect. This (compute) node's agent asks the storage
/// node's agent at `storage` (its TLS listener) to export `volume` to this node's connector, then
/// attaches it here with the connection_info that agent answered.
public struct ConnectRequest: Codable, Sendable {
    /// The storage node's agent: `https://HOST[:PORT]`.
    public var storage: String
    /// What the storage node exports: the same object as `POST /v1/exports`' `volume`.
    public var volume: CreateExportRequest.Volume
    /// network (the default) or kernel.
    public var mode: AttachMode?
    public var readOnly: Bool?

    public init(storage: String, volume: CreateExportRequest.Volume, mode: AttachMode? = nil, readOnly: Bool? = nil) {
        self.storage = storage
        self.volume = volume
        self.mode = mode
        self.readOnly = readOnly
    }

    enum CodingKeys: String, CodingKey {
        case storage, volume, mode
        case readOnly = "read_only"
    }
}

/// A connected volume as the API shows it: where it is exported from, and the attachment here.
public struct ConnectionBody: Codable, Sendable, Hashable {
    public var volumeID: String
    public var storage: String
    /// attached, or where an unfinished connect or disconnect stands (exporting, exported,
    /// detaching, rolling_back).
    public var state: String
    /// Whether this connect made the export on the storage node ("created"), found it there
    /// ("existing": left there when undone), or does not know yet ("unknown": its answer was lost).
    public var export: String
    public var attachment: AttachmentBody?
    /// The last error of an undo the agent still has to finish (storage node unreachable ...).
    public var pendingError: String?

    public init(volumeID: String, storage: String, state: String, export: String, attachment: AttachmentBody?, pendingError: String?) {
        self.volumeID = volumeID
        self.storage = storage
        self.state = state
        self.export = export
        self.attachment = attachment
        self.pendingError = pendingError
    }

    enum CodingKeys: String, CodingKey {
        case volumeID = "volume_id"
        case storage, state, export, attachment
        case pendingError = "pending_error"
    }
}

public struct ConnectionList: Codable, Sendable {
    public var connections: [ConnectionBody]
    public init(connections: [ConnectionBody]) { self.connections = connections }
}

/// `DELETE /v1/connections/{volume}`.
public struct DisconnectResponse: Codable, Sendable, Hashable {
    public var volumeID: String
    /// False when nothing was connected.
    public var disconnected: Bool

    public init(volumeID: String, disconnected: Bool) {
        self.volumeID = volumeID
        self.disconnected = disconnected
    }

    enum CodingKeys: String, CodingKey {
        case volumeID = "volume_id"
        case disconnected
    }
}
