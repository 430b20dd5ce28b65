import GRDB
import TetherAPI
import TetherCore

/// One cross-node connect, journaled before each half is taken: the storage node's agent, what it
/// was asked to export (and to which initiator), whether that export is this connect's to undo,
/// and the attachment made here.
struct ConnectionRecord: Codable, FetchableRecord, PersistableRecord, Sendable, Hashable {
    static let databaseTableName = "connection"

    var volumeID: String
    /// The storage node's agent, canonical (`https://HOST:PORT`).
    var storage: String
    /// What the storage agent was asked to export, JSON of `POST /v1/exports`' `volume`.
    var exportVolume: String
    /// The initiator the export was made for: the undo revokes exactly this one. None for RBD,
    /// whose export the storage node keeps per volume.
    var initiator: String?
    var state: State
    var export: ExportOrigin
    /// The local attachment (AttachmentService) once made.
    var localAttachmentID: String?
    var mode: AttachMode
    var readOnly: Bool
    /// Why the agent could not finish yet (storage node unreachable ...).
    var pendingError: String?
    var createdAt: String
    var updatedAt: String

    /// Connect: exporting (the storage agent asked; its answer not journaled) -> exported (the
    /// export exists there) -> attached. Disconnect: detaching -> (row gone). A failed connect:
    /// rolling_back, until the storage node has revoked the export.
    enum State: String, Codable, Sendable, CaseIterable {
        case exporting
        case exported
        case attached
        case detaching
        case rollingBack = "rolling_back"
    }

    /// Whose export it is: what an undo or a disconnect may remove on the storage node.
    enum ExportOrigin: String, Codable, Sendable, CaseIterable {
        /// Asked for, answer not known: an undo revokes this node's initiator (it uses nothing).
        case unknown
        /// This connect granted the initiator: an undo or disconnect revokes it.
        case created
        /// The initiator had the export already (someone else granted it): left as found.
        case existing
    }
}
