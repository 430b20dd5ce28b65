import Logging
import NIOCore
import TetherAPI
import TetherCore

/// Re-reading the host for journaled attachments: what the reconciler and a repeated attach use.
extension AttachmentService {
    /// A repeated attach of a journaled volume: checked (and repaired, when healing is on) first.
    /// Answers the record as it is now, or nil when it was missing and what was left came down
    /// without force: then the row is dropped and the caller attaches anew. A device still in use
    /// (QEMU holding a map whose paths are reconnecting) refuses that, and the record answers with
    /// its status and problems instead: nothing is pulled from under a guest. The caller holds the
    /// volume's lock.
    func verifyExisting(_ record: AttachmentRecord) async throws -> AttachmentRecord? {
        let inspection = try await inspect(record, heal: heal)
        guard inspection.health == .missing, heal else {
            return try await journal.attachment(id: record.id) ?? record
        }
        guard let current = try await journal.attachment(id: record.id) else { return nil }
        do {
            try await detachOne(current, force: false)
        } catch {
            logger.warning(
                "journaled attachment is missing but what is left would not come down without force; answering it as it is",
                metadata: ["volume": "\(record.volumeID)", "attachment": "\(record.id)", "error": "\(error)"])
            return try await journal.attachment(id: record.id) ?? current
        }
        logger.notice(
            "journaled attachment was gone from the host; attaching again",
            metadata: ["volume": "\(record.volumeID)", "attachment": "\(record.id)", "problems": "\(inspection.problems.joined(separator: "; "))"])
        return nil
    }

    /// Checks (and repairs) one attachment under its volume's lock; the journal records the outcome.
    func verify(_ id: String) async throws {
        guard let listed = try await journal.attachment(id: id) else { return }
        try await locks.withLock(listed.volumeID) {
            guard let record = try await self.journal.attachment(id: id), record.state == .attached else { return }
            _ = try await self.inspect(record, heal: self.heal)
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

    /// The attachments, each attached one looked at (without repairing, without waiting for its
    /// volume's lock): what `tether list` shows is the host, not the last reconcile. A look at an
    /// unchanged row stands for `listCache.freshness` (see `AttachmentListCache`).
    func listChecked() async throws -> [AttachmentRecord] {
        try await listShown().map(\.record)
    }

    /// `listChecked`, with what identifies each row's JSON in `listCache`.
    func listShown() async throws -> [AttachmentListCache.Shown] {
        listCache.shown(try await lookedSnapshot())
    }

    /// GET /v1/attachments' answer: `build` runs only when a row or a look changed since the
    /// last answer (`AttachmentListCache.body`).
    func listBody(build: ([AttachmentListCache.Shown]) throws -> ByteBuffer) async throws -> ByteBuffer {
        _ = try await lookedSnapshot()
        return try listCache.body(build: build)
    }

    /// The journal's rows, each row never looked at (or changed since) looked at now; stale
    /// looks go to the refresher when one runs, else this caller takes them (one at a time).
    private func lookedSnapshot() async throws -> AttachmentListCache.Snapshot {
        let snapshot = try await listCache.snapshot(generation: journal.attachmentGeneration) { try await list() }
        let (now, stale) = listCache.due(snapshot)
        defer { if !stale.isEmpty { listCache.finishRefresh() } }
        await look(at: (now + stale).sorted(), of: snapshot)
        return snapshot
    }

    /// Starts looking again at the stale rows callers hand over, until the task is cancelled (the
    /// agent runs it while it serves): no caller of the list waits for a look at a row it already
    /// has an answer for. Callers hand over from the moment this returns, before the task first
    /// runs (the hand-over waits for it), so none takes a refresh itself meanwhile.
    func startRefreshingLooks() -> Task<Void, Never> {
        listCache.setRefresher(running: true)
        return Task { await self.refreshLooks() }
    }

    private func refreshLooks() async {
        defer { listCache.setRefresher(running: false) }
        for await refresh in listCache.refreshes {
            await look(at: refresh.indices, of: refresh.snapshot)
            listCache.finishRefresh()
        }
    }

    /// Looks at rows `indices` of `snapshot` a few at a time: each look may run multipathd or
    /// read many sysfs files, and any member of the API group may poll the list.
    private func look(at indices: [Int], of snapshot: AttachmentListCache.Snapshot) async {
        await withTaskGroup(of: Void.self) { group in
            for (position, index) in indices.enumerated() {
                if position >= Self.parallelLooks { _ = await group.next() }
                let record = snapshot.records[index]
                group.addTask {
                    let shown = await self.lookedAt(record)
                    self.listCache.store(shown, lookingAt: index, of: snapshot)
                }
            }
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
        updated.checkedAt = Journal.preciseNow()
        if found.health != record.health || found.problems != record.problems {
            do {
                try await journal.recordHealth(id: record.id, health: found.health, problems: found.problems, ifCheckedAt: record.checkedAt)
            } catch {
                logger.warning("cannot journal an attachment's status", metadata: ["attachment": "\(record.id)", "error": "\(error)"])
            }
        }
        return updated
    }

    static let parallelLooks = 4

    /// How long `tether list` waits for one attachment's look before showing the journal's status.
    static let lookTimeout: Duration = .seconds(5)
}
