import Foundation
import GRDB
import TetherCore

/// One attachment on this node. Its `state` moves attaching -> attached -> detaching -> (row gone).
struct AttachmentRecord: Codable, FetchableRecord, PersistableRecord, Sendable, Hashable {
    static let databaseTableName = "attachment"

    var id: String
    var volumeID: String
    /// What the volume was reached through (for iSCSI "iscsi:<iqn>:<lun>"); the idempotency key.
    var targetKey: String
    var protocolName: String
    var mode: String
    var state: String
    /// The request's connection_info with secrets redacted.
    var connectionInfo: String
    /// JSON of `AttachedVolume` once attached.
    var result: String?
    var createdAt: String
    var updatedAt: String

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let volumeID = Column(CodingKeys.volumeID)
        static let state = Column(CodingKeys.state)
        static let createdAt = Column(CodingKeys.createdAt)
    }

    enum State {
        static let attaching = "attaching"
        static let attached = "attached"
        static let detaching = "detaching"
    }
}

/// One exported volume on this node's target.
struct ExportRecord: Codable, FetchableRecord, PersistableRecord, Sendable, Hashable {
    static let databaseTableName = "export"

    var volumeID: String
    var path: String
    var sizeBytes: Int64?
    var targetNumber: Int
    var targetIQN: String
    var lun: Int
    var scsiID: String
    var createdAt: String

    enum Columns {
        static let volumeID = Column(CodingKeys.volumeID)
        static let targetNumber = Column(CodingKeys.targetNumber)
    }
}

/// One initiator's access to an export, with its CHAP account. The journal file is 0600 in a
/// 0700 directory: the password must survive restarts because tgtd forgets it.
struct GrantRecord: Codable, FetchableRecord, PersistableRecord, Sendable, Hashable {
    static let databaseTableName = "exportGrant"

    var volumeID: String
    var initiator: String
    var chapUser: String
    var chapPassword: String

    enum Columns {
        static let volumeID = Column(CodingKeys.volumeID)
        static let initiator = Column(CodingKeys.initiator)
    }

    var grant: ExportGrant {
        ExportGrant(initiator: initiator, chap: CHAPCredentials(username: chapUser, password: Secret(chapPassword)))
    }
}

/// An operation whose side effects may be half done: written before them, removed after.
/// What is left at start-up is completed or rolled back.
struct IntentRecord: Codable, FetchableRecord, PersistableRecord, Sendable, Hashable {
    static let databaseTableName = "intent"

    var id: String
    var kind: String
    var volumeID: String
    var attachmentID: String?
    var createdAt: String

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let volumeID = Column(CodingKeys.volumeID)
        static let kind = Column(CodingKeys.kind)
    }

    enum Kind {
        static let attach = "attach"
        static let detach = "detach"
        static let export = "export"
        static let unexport = "unexport"
    }
}

/// A Cinder volume attached here through local-attach: what Cinder was told, step by step, so a
/// crash or an unreachable Cinder at any point can be finished or rolled back.
struct CinderAttachmentRecord: Codable, FetchableRecord, PersistableRecord, Sendable, Hashable {
    static let databaseTableName = "cinderAttachment"

    var volumeID: String
    /// "attachments" or "legacy".
    var flow: String
    var microversion: String
    var state: String
    /// Cinder's attachment id (attachments flow), once Cinder has answered it.
    var cinderAttachmentID: String?
    /// The local attachment (AttachmentService) once made.
    var localAttachmentID: String?
    var mode: String
    var readOnly: Bool
    /// The connector sent to Cinder, JSON: terminate_connection must send the same.
    var connector: String
    /// Why the agent could not finish yet (Cinder unreachable ...).
    var pendingError: String?
    var createdAt: String
    var updatedAt: String

    enum Flow {
        static let attachments = "attachments"
        static let legacy = "legacy"
    }

    /// Attach: creating -> created (Cinder attachment or reservation exists) -> connected (local
    /// attach done) -> attached. Detach: detaching -> (row gone). A failed attach: rolling_back.
    enum State {
        static let creating = "creating"
        static let created = "created"
        static let connected = "connected"
        static let attached = "attached"
        static let detaching = "detaching"
        static let rollingBack = "rolling_back"
    }
}

extension AttachmentRecord {
    /// What the connector answered, as journaled; nil while the attach has not finished.
    func attached() throws -> AttachedVolume? {
        try result.map { try JSONDecoder().decode(AttachedVolume.self, from: Data($0.utf8)) }
    }
}
