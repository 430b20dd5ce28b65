import Logging
import TetherAPI
import TetherCore

/// Re-reading the host for journaled attachments: what the reconciler and a repeated attach use.
extension AttachmentService {
    /// A repeated attach of a journaled volume: checked (and repaired) first. Answers the record
    /// as it is now, or nil when nothing usable was left: then what remains is undone and the row
    /// dropped, so the caller attaches anew. The caller holds the volume's lock.
    func verifyExisting(_ record: AttachmentRecord) async throws -> AttachmentRecord? {
        let inspection = try await inspect(record, heal: true)
        guard inspection.health == .missing else {
            return try await journal.attachment(id: record.id) ?? record
        }
        logger.notice(
            "journaled attachment is gone from the host; attaching again",
            metadata: ["volume": "\(record.volumeID)", "attachment": "\(record.id)", "problems": "\(inspection.problems.joined(separator: "; "))"])
        try await detachOne(record, force: true)
        return nil
    }

    /// Checks (and repairs) one attachment under its volume's lock; the journal records the outcome.
    func verify(_ id: String) async throws {
        guard let listed = try await journal.attachment(id: id) else { return }
        try await locks.withLock(listed.volumeID) {
            guard let record = try await self.journal.attachment(id: id), record.state == .attached else { return }
            _ = try await self.inspect(record, heal: true)
        }
    }

    /// Asks the attachment's connector to compare it with the host (repairing when `heal`), and
    /// journals what it found. The caller holds the volume's lock.
    func inspect(_ record: AttachmentRecord, heal: Bool) async throws -> Inspection {
        guard let volume = record.result else {
            throw TetherError(.conflict, "attachment \(record.id) is \(record.state.rawValue), not attached")
        }
        let connector = try connector(for: record.protocolName, mode: record.mode)
        let inspection = await connector.inspect(volume, attachmentID: record.id, heal: heal)
        try await journal.recordInspection(id: record.id, inspection)
        let metadata: Logger.Metadata = [
            "volume": "\(record.volumeID)", "attachment": "\(record.id)", "status": "\(inspection.health)",
            "problems": "\(inspection.problems.joined(separator: "; "))",
        ]
        if !inspection.repairs.isEmpty {
            logger.notice("repaired an attachment", metadata: metadata.merging(["repairs": "\(inspection.repairs.joined(separator: "; "))"]) { $1 })
        }
        if inspection.health != record.health {
            let level: Logger.Level = inspection.health == .healthy ? .notice : .warning
            logger.log(level: level, "attachment status changed", metadata: metadata.merging(["previous": "\(record.health)"]) { $1 })
        }
        return inspection
    }
}
