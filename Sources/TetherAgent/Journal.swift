import Foundation
import GRDB
import TetherCore

/// The agent's memory of what it did: attachments, exports, and intents of operations in flight.
/// SQLite through GRDB; every intent is committed before its side effects start.
final class Journal: Sendable {
    let writer: any DatabaseWriter
    /// Counts committed transactions that changed the attachment table (`attachmentGeneration`).
    private let attachmentChanges = AttachmentChangeCounter()

    /// Opens (and migrates) the journal at `directory/journal.sqlite`, private to root: the
    /// directory 0700 and the database files 0600, set through `host`.
    static func open(directory: String, host: any TetherCore.Host) async throws -> Journal {
        try await host.createDirectory(directory, mode: 0o700)
        try await host.setMode(directory, 0o700)
        let journal = try Journal(path: "\(directory)/journal.sqlite")
        for file in journal.files where await host.fileExists(file) {
            try await host.setMode(file, 0o600)
        }
        return journal
    }

    /// The database and its WAL and shared-memory files.
    var files: [String] {
        guard let path = (writer as? DatabasePool)?.path else { return [] }
        return [path, "\(path)-wal", "\(path)-shm"]
    }

    private init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let pool = try DatabasePool(path: path, configuration: configuration)
        // GRDB puts a pool's writer in WAL mode with synchronous=NORMAL, where the last commits
        // can vanish in a power cut while what they described (a session, a mapping) stays.
        // FULL makes every acknowledged step durable; the writer connection lives as long as the pool.
        try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
        writer = pool
        try Self.migrator.migrate(writer)
        writer.add(transactionObserver: attachmentChanges, extent: .databaseLifetime)
    }

    /// SQLite's `synchronous` level of the writer connection (2 is FULL).
    func synchronousLevel() async throws -> Int {
        try await writer.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// An in-memory journal, for tests.
    init() throws {
        writer = try DatabaseQueue()
        try Self.migrator.migrate(writer)
        writer.add(transactionObserver: attachmentChanges, extent: .databaseLifetime)
    }

    /// Grows with every committed change to the attachment table, by any method: a list read
    /// after a generation was taken is as new as that generation at least.
    var attachmentGeneration: Int { attachmentChanges.generation }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "attachment") { t in
                t.primaryKey("id", .text)
                t.column("volumeID", .text).notNull().indexed()
                t.column("targetKey", .text).notNull()
                t.column("protocolName", .text).notNull()
                t.column("mode", .text).notNull()
                t.column("state", .text).notNull()
                t.column("connectionInfo", .text).notNull()
                t.column("result", .text)
                t.column("createdAt", .text).notNull()
                t.column("updatedAt", .text).notNull()
            }
            try db.create(table: "export") { t in
                t.primaryKey("volumeID", .text)
                t.column("path", .text).notNull()
                t.column("sizeBytes", .integer)
                t.column("targetNumber", .integer).notNull().unique()
                t.column("targetIQN", .text).notNull()
                t.column("lun", .integer).notNull()
                t.column("scsiID", .text).notNull()
                t.column("createdAt", .text).notNull()
            }
            try db.create(table: "exportGrant") { t in
                t.column("volumeID", .text).notNull().references("export", onDelete: .cascade)
                t.column("initiator", .text).notNull()
                t.column("chapUser", .text).notNull()
                t.column("chapPassword", .text).notNull()
                t.primaryKey(["volumeID", "initiator"])
            }
            try db.create(table: "intent") { t in
                t.primaryKey("id", .text)
                t.column("kind", .text).notNull()
                t.column("volumeID", .text).notNull()
                t.column("attachmentID", .text)
                t.column("createdAt", .text).notNull()
            }
        }
        migrator.registerMigration("v2-cinder") { db in
            try db.create(table: "cinderAttachment") { t in
                t.primaryKey("volumeID", .text)
                t.column("flow", .text).notNull()
                t.column("microversion", .text).notNull()
                t.column("state", .text).notNull()
                t.column("cinderAttachmentID", .text)
                t.column("localAttachmentID", .text)
                t.column("mode", .text).notNull()
                t.column("readOnly", .boolean).notNull()
                t.column("connector", .text).notNull()
                t.column("pendingError", .text)
                t.column("createdAt", .text).notNull()
                t.column("updatedAt", .text).notNull()
            }
        }
        migrator.registerMigration("v3-health") { db in
            try db.alter(table: "attachment") { t in
                t.add(column: "health", .text).notNull().defaults(to: AttachmentHealth.unknown.rawValue)
                t.add(column: "problems", .text).notNull().defaults(to: "[]")
                t.add(column: "checkedAt", .text)
                t.add(column: "lastError", .text)
            }
        }
        migrator.registerMigration("v4-rbd-export") { db in
            try db.create(table: "rbdExport") { t in
                t.primaryKey("volumeID", .text)
                t.column("cluster", .text).notNull()
                t.column("pool", .text).notNull()
                t.column("image", .text).notNull()
                t.column("user", .text).notNull()
                t.column("createdAt", .text).notNull()
            }
        }
        migrator.registerMigration("v5-adopted-secret") { db in
            try db.create(table: "adoptedSecret") { t in
                t.column("fsid", .text).notNull()
                t.column("user", .text).notNull()
                t.column("uuid", .text).notNull()
                t.column("usage", .text).notNull()
                t.column("reason", .text).notNull()
                t.column("adoptedAt", .text).notNull()
                t.primaryKey(["fsid", "user"])
            }
        }
        migrator.registerMigration("v6-hook") { db in
            try db.create(table: "hookClaim") { t in
                t.primaryKey("attachmentID", .text)
                t.column("volumeID", .text).notNull().indexed()
                t.column("domain", .text).notNull().indexed()
                t.column("createdAt", .text).notNull()
            }
            try db.create(table: "knownVolume") { t in
                t.primaryKey("volumeID", .text)
                t.column("connectionInfo", .text).notNull()
                t.column("updatedAt", .text).notNull()
            }
        }
        migrator.registerMigration("v7-connection") { db in
            try db.create(table: "connection") { t in
                t.primaryKey("volumeID", .text)
                t.column("storage", .text).notNull()
                t.column("exportVolume", .text).notNull()
                t.column("initiator", .text)
                t.column("state", .text).notNull()
                t.column("export", .text).notNull()
                t.column("localAttachmentID", .text)
                t.column("mode", .text).notNull()
                t.column("readOnly", .boolean).notNull()
                t.column("pendingError", .text)
                t.column("createdAt", .text).notNull()
                t.column("updatedAt", .text).notNull()
            }
        }
        return migrator
    }

    static func now() -> String {
        Date().formatted(.iso8601)
    }

    /// With milliseconds: `checkedAt` also tells which of two looks in one second came last.
    static func preciseNow() -> String {
        Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    // MARK: - Attachments

    /// Every attachment that reads back. One row that does not (written by a newer version,
    /// repaired by hand) is left out here, so the others still start, list, detach and reconcile;
    /// `unreadableAttachments` names it, for the doctor and the reconciler, and its volume's own
    /// operations fail with the decoding error (`attachments(volume:)`).
    func attachments() async throws -> [AttachmentRecord] {
        try await readAttachments().readable
    }

    /// Rows of the attachment table that do not read back as attachments, with why.
    func unreadableAttachments() async throws -> [(id: String, volumeID: String, error: String)] {
        try await readAttachments().unreadable
    }

    private func readAttachments() async throws -> (readable: [AttachmentRecord], unreadable: [(id: String, volumeID: String, error: String)]) {
        try await writer.read { db in
            var readable: [AttachmentRecord] = []
            var unreadable: [(id: String, volumeID: String, error: String)] = []
            for row in try Row.fetchAll(db, AttachmentRecord.order(AttachmentRecord.Columns.createdAt)) {
                do {
                    readable.append(try AttachmentRecord(row: row))
                } catch {
                    unreadable.append((row["id"] ?? "?", row["volumeID"] ?? "?", "\(error)"))
                }
            }
            return (readable, unreadable)
        }
    }

    /// The volume of the attachment `reference` names (an attachment id, else a volume id), from
    /// that column alone: what a detach locks before it reads the rows under the lock.
    func volumeID(of reference: String) async throws -> String? {
        try await writer.read { db in
            if let volumeID = try String.fetchOne(db, sql: "SELECT volumeID FROM attachment WHERE id = ?", arguments: [reference]) {
                return volumeID
            }
            return try String.fetchOne(db, sql: "SELECT volumeID FROM attachment WHERE volumeID = ? LIMIT 1", arguments: [reference])
        }
    }

    func attachment(id: String) async throws -> AttachmentRecord? {
        try await writer.read { db in try AttachmentRecord.fetchOne(db, key: id) }
    }

    /// The attachment with id `reference`, else the attachments of volume `reference`: one read.
    func attachments(reference: String) async throws -> [AttachmentRecord] {
        try await writer.read { db in
            if let record = try AttachmentRecord.fetchOne(db, key: reference) { return [record] }
            return try AttachmentRecord.filter(AttachmentRecord.Columns.volumeID == reference).order(AttachmentRecord.Columns.createdAt).fetchAll(db)
        }
    }

    func attachments(volume: String) async throws -> [AttachmentRecord] {
        try await writer.read { db in
            try AttachmentRecord.filter(AttachmentRecord.Columns.volumeID == volume).order(AttachmentRecord.Columns.createdAt).fetchAll(db)
        }
    }

    /// Records the attachment as `attaching` with its intent, before any side effect.
    func beginAttach(_ record: AttachmentRecord) async throws {
        try await writer.write { db in
            try record.insert(db)
            try IntentRecord(id: record.id, kind: .attach, volumeID: record.volumeID, attachmentID: record.id, createdAt: record.createdAt).insert(db)
        }
    }

    /// Records a new attachment as attached, with the result the caller holds, and drops its
    /// intent: one transaction, and no read of the row the caller wrote itself (`beginAttach`;
    /// under the volume's lock, nothing else writes an attaching row). A disk XML gets a target
    /// no other attachment uses, chosen inside the same transaction, so two attaches that finish
    /// together cannot take the same one. Answers the record as journaled.
    func finishNewAttach(_ record: AttachmentRecord, result: AttachedVolume) async throws -> AttachmentRecord {
        try await writer.write { db in
            var record = record
            var result = result
            if let bus = DiskTarget.of(result.diskXML)?.bus {
                let used = Set(try Self.diskTargetsInUse(db).compactMap(DiskTarget.index(of:)))
                guard let index = (DiskTarget.firstIndex...DiskTarget.lastIndex).first(where: { !used.contains($0) }) else {
                    throw TetherError(.conflict, "every disk target from vdb to vdzzz is taken by an attachment of this node", hint: "detach volumes that are no longer used")
                }
                result.diskXML = DiskTarget(device: DiskTarget.name(index: index, bus: bus), bus: bus).rewrite(result.diskXML)
            }
            record.state = .attached
            record.result = result
            record.updatedAt = Self.now()
            record.health = .healthy
            record.problems = []
            record.checkedAt = Self.preciseNow()
            record.lastError = nil
            try record.update(db)
            _ = try IntentRecord.deleteOne(db, key: record.id)
            return record
        }
    }

    /// The disk target devices (`vdb`, …) the journaled attachments' disk XMLs name. Reads only
    /// that field of each result; a result that is not JSON (the doctor reports it) names none.
    static func diskTargetsInUse(_ db: Database) throws -> [String] {
        try String.fetchAll(
            db, sql: "SELECT json_extract(result, '$.diskXML') FROM attachment WHERE result IS NOT NULL AND json_valid(result) AND json_extract(result, '$.diskXML') IS NOT NULL"
        ).compactMap { DiskTarget.of($0)?.device }
    }

    /// - Parameter keepingStatus: an extend: the status and problems the last look found stay.
    func finishAttach(id: String, result: AttachedVolume, keepingStatus: Bool = false) async throws {
        try await writer.write { db in
            guard var record = try AttachmentRecord.fetchOne(db, key: id) else { return }
            record.state = .attached
            record.result = result
            record.updatedAt = Self.now()
            if !keepingStatus {
                record.health = .healthy
                record.problems = []
                record.checkedAt = Self.preciseNow()
                record.lastError = nil
            }
            try record.update(db)
            _ = try IntentRecord.deleteOne(db, key: id)
        }
    }

    /// Records why a step failed and left the row for the reconciler (or the operator) to finish.
    func recordFailure(id: String, _ error: String) async throws {
        try await writer.write { db in
            guard var record = try AttachmentRecord.fetchOne(db, key: id) else { return }
            record.lastError = error
            record.updatedAt = Self.now()
            try record.update(db)
        }
    }

    /// Records a status found without the volume's lock: the result stays as it is (only the
    /// reconciler, under the lock, writes what a repair changed).
    /// - Parameter checkedAt: the row's `checkedAt` when it was read: a row checked since (by the
    ///   reconciler, under the lock) is newer than this look and is left as it is.
    func recordHealth(id: String, health: AttachmentHealth, problems: [String], ifCheckedAt checkedAt: String?) async throws {
        try await writer.write { db in
            guard var record = try AttachmentRecord.fetchOne(db, key: id), record.state == .attached, record.checkedAt == checkedAt else { return }
            record.health = health
            record.problems = problems
            record.checkedAt = Self.preciseNow()
            try record.update(db)
        }
    }

    /// Records what the reconciler found, and the attachment as it is now when a repair changed it.
    func recordInspection(id: String, _ inspection: Inspection) async throws {
        try await writer.write { db in
            guard var record = try AttachmentRecord.fetchOne(db, key: id), record.state == .attached else { return }
            record.health = inspection.health
            record.problems = inspection.problems
            record.checkedAt = Self.preciseNow()
            record.result = inspection.volume
            // A failed detach's error is history once the attachment is found whole again.
            if inspection.health == .healthy { record.lastError = nil }
            try record.update(db)
        }
    }

    /// Forgets an attachment whose attach failed and was undone: the journal is as before.
    func abandonAttach(id: String) async throws {
        try await writer.write { db in
            _ = try AttachmentRecord.deleteOne(db, key: id)
            _ = try IntentRecord.deleteOne(db, key: id)
        }
    }

    func beginDetach(id: String) async throws {
        try await writer.write { db in
            // Two columns change: the row's JSON columns are neither decoded nor written again.
            guard let volumeID = try String.fetchOne(db, sql: "SELECT volumeID FROM attachment WHERE id = ?", arguments: [id]) else { return }
            let now = Self.now()
            try db.execute(
                sql: "UPDATE attachment SET state = ?, updatedAt = ? WHERE id = ?", arguments: [AttachmentRecord.State.detaching.rawValue, now, id])
            try IntentRecord(id: id, kind: .detach, volumeID: volumeID, attachmentID: id, createdAt: now).upsert(db)
        }
    }

    /// A detach that failed without force: the attachment stays, as it was.
    func cancelDetach(id: String) async throws {
        try await writer.write { db in
            guard var record = try AttachmentRecord.fetchOne(db, key: id) else { return }
            record.state = .attached
            try record.update(db)
            _ = try IntentRecord.deleteOne(db, key: id)
        }
    }

    /// Forgets a detached attachment; a kernel-mode one leaves its (redacted) connection_info as
    /// a known volume, and its hook claim goes with it, in the same transaction.
    func finishDetach(id: String) async throws {
        try await writer.write { db in
            // Only a kernel-mode row is read whole (for its connection_info).
            let mode = try String.fetchOne(db, sql: "SELECT mode FROM attachment WHERE id = ?", arguments: [id])
            if mode == AttachMode.kernel.rawValue, let record = try AttachmentRecord.fetchOne(db, key: id) {
                try KnownVolumeRecord(volumeID: record.volumeID, connectionInfo: record.connectionInfo, updatedAt: Self.now()).upsert(db)
            }
            _ = try HookClaimRecord.deleteOne(db, key: id)
            _ = try AttachmentRecord.deleteOne(db, key: id)
            _ = try IntentRecord.deleteOne(db, key: id)
        }
    }

    // MARK: - Exports

    func export(volume: String) async throws -> (ExportRecord, [GrantRecord])? {
        try await writer.read { db in
            guard let record = try ExportRecord.fetchOne(db, key: volume) else { return nil }
            let grants = try GrantRecord.filter(GrantRecord.Columns.volumeID == volume).order(GrantRecord.Columns.initiator).fetchAll(db)
            return (record, grants)
        }
    }

    func exports() async throws -> [(ExportRecord, [GrantRecord])] {
        try await writer.read { db in
            try ExportRecord.order(ExportRecord.Columns.targetNumber).fetchAll(db).map { record in
                (record, try GrantRecord.filter(GrantRecord.Columns.volumeID == record.volumeID).order(GrantRecord.Columns.initiator).fetchAll(db))
            }
        }
    }

    /// Replaces the export of `record.volumeID` and its grants in one transaction.
    func saveExport(_ record: ExportRecord, grants: [GrantRecord]) async throws {
        try await writer.write { db in
            try record.upsert(db)
            _ = try GrantRecord.filter(GrantRecord.Columns.volumeID == record.volumeID).deleteAll(db)
            for grant in grants { try grant.insert(db) }
        }
    }

    func deleteExport(volume: String) async throws {
        try await writer.write { db in
            _ = try GrantRecord.filter(GrantRecord.Columns.volumeID == volume).deleteAll(db)
            _ = try ExportRecord.deleteOne(db, key: volume)
            _ = try IntentRecord.filter(IntentRecord.Columns.volumeID == volume && IntentRecord.Columns.kind == IntentRecord.Kind.unexport).deleteAll(db)
        }
    }

    func takenTargetNumbers() async throws -> Set<Int> {
        try await writer.read { db in Set(try Int.fetchAll(db, sql: "SELECT targetNumber FROM export")) }
    }

    // MARK: - Intents

    func addIntent(_ intent: IntentRecord) async throws {
        try await writer.write { db in try intent.upsert(db) }
    }

    func removeIntent(id: String) async throws {
        try await writer.write { db in _ = try IntentRecord.deleteOne(db, key: id) }
    }

    func intents() async throws -> [IntentRecord] {
        try await writer.read { db in try IntentRecord.fetchAll(db) }
    }

    /// Counts for health and tests.
    func counts() async throws -> (attachments: Int, exports: Int, intents: Int) {
        try await writer.read { db in
            (try AttachmentRecord.fetchCount(db), try ExportRecord.fetchCount(db), try IntentRecord.fetchCount(db))
        }
    }
}
