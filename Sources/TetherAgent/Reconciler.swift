import Logging
import Synchronization
import TetherAPI
import TetherCore

/// Compares what the journal says is attached with the host, at start, every `interval` and on
/// request: classifies each attachment, repairs what it safely can (when `heal`), finishes
/// rollbacks and detaches that failed before, and reports orphans, removing them only when asked.
/// Every attachment is looked at under its volume's lock, so no attach or detach runs meanwhile.
final class Reconciler: Sendable {
    let attachments: AttachmentService
    let interval: Duration?
    let heal: Bool
    let logger: Logger
    private let last = Mutex<ReconcileReport?>(nil)

    init(attachments: AttachmentService, interval: Duration?, heal: Bool, logger: Logger) {
        self.attachments = attachments
        self.interval = interval
        self.heal = heal
        self.logger = logger
    }

    /// The last reconcile's report, nil before the first.
    var lastReport: ReconcileReport? { last.withLock { $0 } }

    /// Reconciles now, then every `interval` until cancelled; a failed round is logged, not fatal.
    func run() async {
        repeat {
            do {
                _ = try await reconcile(heal: heal, clean: false)
            } catch {
                logger.error("reconcile failed", metadata: ["error": "\(error)"])
            }
            guard let interval else { return }
            do {
                try await attachments.clock.sleep(for: interval)
            } catch {
                return  // cancelled: the agent is stopping
            }
        } while !Task.isCancelled
    }

    /// One round at a time: a request waits for the periodic round (or another request) in progress,
    /// so two `--clean` rounds never race for the same orphan and the last report is the last round's.
    func reconcile(heal: Bool, clean: Bool) async throws -> ReconcileReport {
        try await attachments.locks.withLock(Self.roundLock) { try await self.round(heal: heal, clean: clean) }
    }

    /// The lock key of a round: no volume id can be it (volume ids are printable).
    static let roundLock = "\u{0}reconcile"

    private func round(heal: Bool, clean: Bool) async throws -> ReconcileReport {
        let watch = StopWatch()
        var checks: [ReconcileReport.Check] = []
        var unfinished: [ReconcileReport.Unfinished] = []
        for record in try await attachments.list() {
            if let check = try await look(at: record, heal: heal, unfinished: &unfinished) { checks.append(check) }
        }
        var (orphans, errors) = await orphans(clean: clean)
        errors += try await attachments.journal.unreadableAttachments().map {
            "attachment \($0.id) of volume \($0.volumeID) does not read back from the journal: \($0.error)"
        }
        let report = ReconcileReport(
            attachments: checks, unfinished: unfinished, orphans: orphans, errors: errors, healed: heal,
            elapsedMilliseconds: Int(StopWatch.milliseconds(watch.total).rounded()))
        last.withLock { $0 = report }
        let metadata: Logger.Metadata = [
            "attachments": "\(checks.count)", "unhealthy": "\(checks.filter { $0.status != .healthy }.count)",
            "repaired": "\(checks.filter { !$0.repairs.isEmpty }.count)", "orphans": "\(orphans.count)", "elapsed_ms": "\(report.elapsedMilliseconds)",
        ]
        logger.log(level: report.isClean ? .debug : .notice, "reconciled", metadata: metadata)
        return report
    }

    /// One journaled attachment, re-read under its volume's lock: the row may have changed or gone
    /// while the lock was awaited.
    private func look(at listed: AttachmentRecord, heal: Bool, unfinished: inout [ReconcileReport.Unfinished]) async throws -> ReconcileReport.Check? {
        let service = attachments
        let outcome: Outcome = try await service.locks.withLock(listed.volumeID) {
            guard let record = try await service.journal.attachment(id: listed.id) else { return .gone }
            guard record.state == .attached else {
                // Not in flight (that would hold the lock): an attach whose rollback, or a detach,
                // failed before. Finished now when repairing; only reported otherwise.
                guard heal else {
                    return .unfinished(.init(id: record.id, volumeID: record.volumeID, state: record.state.rawValue, finished: false, error: record.lastError))
                }
                let finished = try await service.finishInterrupted(record)
                let error = finished ? nil : try await service.journal.attachment(id: record.id)?.lastError
                return .unfinished(.init(id: record.id, volumeID: record.volumeID, state: record.state.rawValue, finished: finished, error: error))
            }
            do {
                _ = try service.connector(for: record.protocolName, mode: record.mode)
            } catch {
                // No connector for it on this node (the configuration changed): unknown, with why.
                let problem = "cannot check: \(error)"
                if let volume = record.result {
                    try await service.journal.recordInspection(id: record.id, Inspection(health: .unknown, problems: [problem], volume: volume))
                }
                return .checked(.init(id: record.id, volumeID: record.volumeID, status: .unknown, previous: record.health, problems: [problem], repairs: []))
            }
            // A journal that cannot record the finding throws: the round stops with that error
            // rather than report a repair the journal does not know of.
            let inspection = try await service.inspect(record, heal: heal)
            return .checked(
                .init(
                    id: record.id, volumeID: record.volumeID, status: inspection.health, previous: record.health, problems: inspection.problems,
                    repairs: inspection.repairs))
        }
        switch outcome {
        case .gone: return nil
        case .unfinished(let entry):
            unfinished.append(entry)
            return nil
        case .checked(let check): return check
        }
    }

    private enum Outcome: Sendable {
        case gone
        case unfinished(ReconcileReport.Unfinished)
        case checked(ReconcileReport.Check)
    }

    /// Each connector's orphans, given every journaled attachment it made (and what an unfinished
    /// one may have left, so an attach in flight is never taken for an orphan).
    private func orphans(clean: Bool) async -> ([ReconcileReport.OrphanFinding], [String]) {
        var findings: [ReconcileReport.OrphanFinding] = []
        var errors: [String] = []
        let records: [AttachmentRecord]
        do {
            records = try await attachments.list()
        } catch {
            return ([], ["cannot read the journal: \(error)"])
        }
        for connector in attachments.connectors {
            do {
                var found = try await connector.orphans(known: known(records, by: connector))
                if !found.isEmpty {
                    // An attach that began after `records` were read may have made it. Attaches
                    // journal their intent before they touch the host, so what is still an orphan
                    // against the journal read again now was one when it was first seen.
                    let again = try await connector.orphans(known: known(try await attachments.list(), by: connector))
                    found = found.filter(again.contains)
                }
                for orphan in found {
                    findings.append(await consider(orphan, of: connector, clean: clean))
                }
            } catch {
                errors.append("\(connector.mode.rawValue) \(connector.driverVolumeTypes.sorted().joined(separator: "/")): cannot look for orphans: \(error)")
            }
        }
        return (findings, errors)
    }

    /// What `connector` made of `records` (and what their unfinished attaches may have left).
    private func known(_ records: [AttachmentRecord], by connector: any Connector) -> [AttachedVolume] {
        records.compactMap { record -> AttachedVolume? in
            guard let mine = try? attachments.connector(for: record.protocolName, mode: record.mode), mine.mode == connector.mode,
                mine.driverVolumeTypes == connector.driverVolumeTypes
            else { return nil }  // another connector's: not this one's to judge
            return AttachmentService.attachedVolume(record, connector: connector)
        }
    }

    private func consider(_ orphan: Orphan, of connector: any Connector, clean: Bool) async -> ReconcileReport.OrphanFinding {
        let metadata: Logger.Metadata = ["kind": "\(orphan.kind.rawValue)", "name": "\(orphan.name)", "detail": "\(orphan.detail)"]
        guard clean else {
            logger.warning("orphan: looks like Tether's but is not journaled (tether reconcile --clean removes it)", metadata: metadata)
            return .init(orphan: orphan, removed: false)
        }
        do {
            if let volumeID = orphan.volumeID {
                // Under the volume's lock, and only while no attachment of it is journaled: an
                // attach of it since the scan adopts what it finds (a mapping, a LUN's disk).
                let service = attachments
                let attachedAgain = try await service.locks.withLock(volumeID) {
                    if try await !service.journal.attachments(volume: volumeID).isEmpty { return true }
                    try await connector.remove(orphan)
                    return false
                }
                if attachedAgain {
                    logger.notice("left an orphan: its volume was attached again meanwhile", metadata: metadata)
                    return .init(orphan: orphan, removed: false, error: "volume \(volumeID) was attached again meanwhile; run tether reconcile again")
                }
            } else {
                try await connector.remove(orphan)
            }
            logger.notice("removed an orphan", metadata: metadata)
            return .init(orphan: orphan, removed: true)
        } catch {
            logger.error("could not remove an orphan", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return .init(orphan: orphan, removed: false, error: "\(error)")
        }
    }
}
