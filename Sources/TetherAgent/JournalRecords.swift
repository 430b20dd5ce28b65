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
    var mode: AttachMode
    var state: State
    /// The request's connection_info with secrets redacted (JSON in the journal).
    var connectionInfo: ConnectionInfo
    /// What the connector made, with its typed handle, once attached (JSON in the journal).
    var result: AttachedVolume?
    var createdAt: String
    var updatedAt: String
    /// How the attachment compared with the host when the reconciler last looked.
    var health: AttachmentHealth = .unknown
    /// What the reconciler found wrong then, one line each.
    var problems: [String] = []
    var checkedAt: String?
    /// The error of the last step that failed and left the row for the reconciler to finish (a
    /// rollback or a detach that could not complete); nil when none.
    var lastError: String?

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let volumeID = Column(CodingKeys.volumeID)
        static let state = Column(CodingKeys.state)
        static let createdAt = Column(CodingKeys.createdAt)
    }

    enum State: String, Codable, Sendable, CaseIterable {
        case attaching
        case attached
        case detaching
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
    var kind: Kind
    var volumeID: String
    var attachmentID: String?
    var createdAt: String

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let volumeID = Column(CodingKeys.volumeID)
        static let kind = Column(CodingKeys.kind)
    }

    enum Kind: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
        case attach
        case detach
        case export
        case unexport
    }
}

/// A Cinder volume attached here through local-attach: what Cinder was told, step by step, so a
/// crash or an unreachable Cinder at any point can be finished or rolled back.
struct CinderAttachmentRecord: Codable, FetchableRecord, PersistableRecord, Sendable, Hashable {
    static let databaseTableName = "cinderAttachment"

    var volumeID: String
    var flow: Flow
    var microversion: String
    var state: State
    /// Cinder's attachment id (attachments flow), once Cinder has answered it.
    var cinderAttachmentID: String?
    /// The local attachment (AttachmentService) once made.
    var localAttachmentID: String?
    var mode: AttachMode
    var readOnly: Bool
    /// The connector sent to Cinder, JSON: terminate_connection must send the same.
    var connector: String
    /// Why the agent could not finish yet (Cinder unreachable ...).
    var pendingError: String?
    var createdAt: String
    var updatedAt: String

    enum Flow: String, Codable, Sendable, CaseIterable {
        case attachments
        case legacy
    }

    /// Attach: creating -> created (Cinder attachment or reservation exists) -> connected (local
    /// attach done) -> attached. Detach: detaching -> (row gone). A failed attach: rolling_back.
    enum State: String, Codable, Sendable, CaseIterable {
        case creating
        case created
        case connected
        case attached
        case detaching
        case rollingBack = "rolling_back"
    }
}

/// Journaled as its JSON text. GRDB stores a nested Codable value as JSON only when it encodes to
/// a keyed or unkeyed container; ConnectionInfo encodes as one JSON value, so it says how itself.
extension ConnectionInfo: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue {
        // A JSONValue tree always encodes (no floats that JSON cannot hold reach it: the decoder
        // that built it refused them); NULL would make the row refuse its insert, not lose it.
        guard let data = try? JSONEncoder().encode(self) else { return .null }
        return String(decoding: data, as: UTF8.self).databaseValue
    }

    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> ConnectionInfo? {
        guard let text = String.fromDatabaseValue(dbValue) else { return nil }
        return try? JSONDecoder().decode(ConnectionInfo.self, from: Data(text.utf8))
    }
}

/// An attachment the libvirt qemu hook made at a domain's `prepare`: the hook's `release` detaches
/// exactly these, never an attachment another caller made.
struct HookClaimRecord: Codable, FetchableRecord, PersistableRecord, Sendable, Hashable {
    static let databaseTableName = "hookClaim"

    var attachmentID: String
    var volumeID: String
    var domain: String
    var createdAt: String

    enum Columns {
        static let volumeID = Column(CodingKeys.volumeID)
        static let domain = Column(CodingKeys.domain)
    }
}

/// A kernel-mode volume this node attached once and detached since: its connection_info (secrets
/// redacted, as the attachment row had it), so the hook can attach it again at a domain's prepare.
struct KnownVolumeRecord: Codable, FetchableRecord, PersistableRecord, Sendable, Hashable {
    static let databaseTableName = "knownVolume"

    var volumeID: String
    var connectionInfo: ConnectionInfo
    var updatedAt: String
}
