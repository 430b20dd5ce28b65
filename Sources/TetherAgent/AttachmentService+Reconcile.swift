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

    /// The attachments, each attached one looked at now (without repairing, without waiting for
    /// its volume's lock): what `tether list` shows is the host, not the last reconcile.
    func listChecked() async throws -> [AttachmentRecord] {
        let records = try await list()
        return await withTaskGroup(of: (Int, AttachmentRecord).self) { group in
            for (index, record) in records.enumerated() {
                group.addTask { (index, await self.lookedAt(record)) }
            }
            var checked = records
            for await (index, record) in group { checked[index] = record }
            return checked
        }
    }

    func showChecked(_ reference: String) async throws -> AttachmentRecord {
        await lookedAt(try await show(reference))
    }

    /// `record` with its status as found now, journaled when it changed; as journaled when it is
    /// not attached, or when the look takes longer than `lookTimeout` (a command that hangs).
    private func lookedAt(_ record: AttachmentRecord) async -> AttachmentRecord {
        guard record.state == .attached, let volume = record.result, let connector = try? connector(for: record.protocolName, mode: record.mode) else {
            return record  // not attached, or no connector for it here: the journal's word stands
        }
        let found: Inspection
        do {
            found = try await withTimeout(Self.lookTimeout, clock: clock, "checking \(record.volumeID)") {
                await connector.inspect(volume, attachmentID: record.id, heal: false)
            }
        } catch {
            return record
        }
        var updated = record
        updated.health = found.health
        updated.problems = found.problems
        updated.checkedAt = Journal.now()
        if found.health != record.health || found.problems != record.problems {
            do {
                try await journal.recordHealth(id: record.id, health: found.health, problems: found.problems)
            } catch {
                logger.warning("cannot journal an attachment's status", metadata: ["attachment": "\(record.id)", "error": "\(error)"])
            }
        }
        return updated
    }

    /// How long `tether list` waits for one attachment's look before showing the journal's status.
    static let lookTimeout: Duration = .seconds(5)
}
