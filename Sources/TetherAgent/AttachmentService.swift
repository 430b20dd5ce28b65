import Foundation
import Logging
import TetherAPI
import TetherCore

/// Host-side attach and detach: picks the connector, holds the volume's lock, journals the
/// intent before the connector touches anything, and undoes a failed attach completely.
public final class AttachmentService: Sendable {
    let journal: Journal
    let locks: VolumeLocks
    let connectors: [any Connector]
    let node: ConnectorProperties
    let stats: OperationStats
    let logger: Logger
    /// The clock of the reconciler's rounds and timings (the host's).
    let clock: any Clock<Duration>
    let failpoints: Failpoints
    /// `[reconcile] heal`: whether a repeated attach repairs what it finds, and whether the
    /// reconciler finishes failed rollbacks and detaches.
    let heal: Bool
    /// The list's rows, looks and JSON (GET /v1/attachments).
    let listCache: AttachmentListCache

    init(
        journal: Journal, locks: VolumeLocks, connectors: [any Connector], node: ConnectorProperties, stats: OperationStats, logger: Logger,
        clock: any Clock<Duration> = ContinuousClock(), failpoints: Failpoints = Failpoints(), heal: Bool = true,
        listFreshness: Duration = AttachmentService.listFreshness
    ) {
        self.listCache = AttachmentListCache(freshness: listFreshness)
        self.clock = clock
        self.heal = heal
        self.failpoints = failpoints
        self.journal = journal
        self.locks = locks
        self.connectors = connectors
        self.node = node
        self.stats = stats
        self.logger = logger
    }

    /// Attaches, or returns the attachment that already exists for the same volume and target.
    /// - Throws: errors with every secret of the request's connection_info masked: a peer's
    ///   message may quote what it was sent.
    /// - Parameter peer: who asked (the API peer's credentials), for the log of a forced take-over.
    func attach(_ request: CreateAttachmentRequest, peer: String = "unknown") async throws -> (AttachmentRecord, created: Bool) {
        do {
            // Here, not only in the route: local-attach hands over Cinder's connection_info too.
            // Inside the masking: a refused value may be a secret.
            try request.validate()
            return try await attachUnredacted(request, peer: peer)
        } catch {
            throw Redaction.redact(error, secrets: request.connectionInfo.secretValues)
        }
    }

    private func attachUnredacted(_ request: CreateAttachmentRequest, peer: String) async throws -> (AttachmentRecord, created: Bool) {
        let info = request.connectionInfo
        let mode = request.mode ?? .network
        let connector = try self.connector(for: info.driverVolumeType, mode: mode)
        let target = try Self.targetKey(info)
        guard let volumeID = request.volumeID ?? info.volumeID, !volumeID.isEmpty else {
            throw TetherError.invalidInput("the request names no volume", hint: "set volume_id in the request or in connection_info.data")
        }
        let accessMode: AccessMode = request.readOnly == true ? .readOnly : try AccessMode(connectionInfoValue: info.data["access_mode"]?.stringValue)

        return try await locks.withLock(volumeID) {
            var existing = try await self.journal.attachments(volume: volumeID)
            if let same = existing.first(where: { $0.targetKey == target && $0.state == .attached }) {
                // Journaled is not attached: re-read the host (and repair) before saying so.
                if let verified = try await self.verifyExisting(same) {
                    self.logger.info("volume already attached", metadata: ["volume": "\(volumeID)", "attachment": "\(same.id)", "health": "\(verified.health)"])
                    return (verified, false)
                }
                existing = try await self.journal.attachments(volume: volumeID)
            }
            if let other = existing.first {
                throw TetherError(
                    .conflict, "volume \(volumeID) is already attached here through \(other.targetKey) (attachment \(other.id), \(other.state))",
                    hint: "detach it first: tether detach \(other.id)")
            }
            return try await self.stats.track(.attach, protocol: .init(journaled: info.driverVolumeType.lowercased()), mode: .init(mode)) {
                let takeover = Takeover(force: request.force ?? false, breakLock: request.breakLock ?? false, requestedBy: peer)
                return try await self.attachNew(volumeID: volumeID, info: info, target: target, mode: mode, accessMode: accessMode, connector: connector, takeover: takeover)
            }
        }
    }

    private func attachNew(
        volumeID: String, info: ConnectionInfo, target: String, mode: AttachMode, accessMode: AccessMode, connector: any Connector, takeover: Takeover
    ) async throws -> (AttachmentRecord, created: Bool) {
        let now = Journal.now()
        var record = AttachmentRecord(
            id: UUID().uuidString.lowercased(), volumeID: volumeID, targetKey: target, protocolName: info.driverVolumeType.lowercased(),
            mode: mode, state: .attaching, connectionInfo: info.redacted(), result: nil, createdAt: now, updatedAt: now)
        let started = ContinuousClock.now
        var startMetadata: Logger.Metadata = ["volume": "\(volumeID)", "attachment": "\(record.id)", "target": "\(target)", "mode": "\(mode.rawValue)"]
        if takeover.force {
            startMetadata["force"] = "\(takeover.force)"
            startMetadata["break_lock"] = "\(takeover.breakLock)"
            startMetadata["requested_by"] = "\(takeover.requestedBy)"
        }
        logger.info("attach started", metadata: startMetadata)
        try await journal.beginAttach(record)
        let journaled = ContinuousClock.now
        let request = AttachRequest(
            attachmentID: record.id, volumeID: volumeID, connectionInfo: info, mode: mode, accessMode: accessMode, connector: node,
            force: takeover.force, breakLock: takeover.breakLock, requestedBy: takeover.requestedBy)
        do {
            try failpoints.hit(.attachJournaled)
            let attached = try await connector.attach(request)
            let connected = ContinuousClock.now
            try await failpoints.reach(.attachConnected)
            record = try await journal.finishNewAttach(record, result: attached)
            // Where an attach's time goes, for scripts/bench.sh compare --profile.
            logger.debug(
                "attach timing",
                metadata: [
                    "attachment": "\(record.id)", "journal_begin_us": "\(Self.microseconds(journaled - started))",
                    "connector_us": "\(Self.microseconds(connected - journaled))", "journal_finish_us": "\(Self.microseconds(ContinuousClock.now - connected))",
                ])
            try failpoints.hit(.attachRecorded)
            logger.info(
                "attach finished",
                metadata: ["volume": "\(volumeID)", "attachment": "\(record.id)", "wwid": "\(attached.wwid ?? "-")", "elapsed": "\(ContinuousClock.now - started)"])
            return (record, true)
        } catch {
            let cause = Redaction.redact(error, secrets: info.secretValues)
            logger.warning("attach failed", metadata: ["volume": "\(volumeID)", "attachment": "\(record.id)", "error": "\(cause)"])
            // Undo whatever the connector may have done, then forget the intent: the journal is as before.
            do {
                try await connector.detach(connector.interruptedAttach(request), attachmentID: record.id, force: true)
            } catch let rollback {
                // The row stays `attaching` with both errors: the reconciler retries the rollback,
                // and the volume cannot be attached again until it succeeded.
                let rollback = Redaction.redact(rollback, secrets: info.secretValues)
                logger.error("attach rollback failed; the reconciler retries it", metadata: ["attachment": "\(record.id)", "error": "\(rollback)"])
                await recordFailure(id: record.id, "attach failed: \(cause); its rollback failed: \(rollback)")
                throw TetherError(
                    (error as? TetherError)?.code ?? .internalError, "\((error as? TetherError)?.message ?? "\(cause)"); undoing it failed too: \(rollback)",
                    hint: "tether reconcile retries the rollback; tether show \(record.id) shows its state")
            }
            try await journal.abandonAttach(id: record.id)
            throw error
        }
    }

    /// Detaches by attachment id or by volume id. Nothing attached is not an error.
    func detach(_ reference: String, force: Bool) async throws -> [String] {
        guard let volumeID = try await journal.volumeID(of: reference) else { return [] }
        return try await locks.withLock(volumeID) {
            var detached: [String] = []
            // Re-read under the lock: another request may have changed it meanwhile.
            for record in try await self.resolve(reference) {
                try await self.stats.track(.detach, protocol: .init(journaled: record.protocolName), mode: .init(record.mode)) { try await self.detachOne(record, force: force) }
                detached.append(record.id)
            }
            return detached
        }
    }

    func detachOne(_ record: AttachmentRecord, force: Bool) async throws {
        let started = ContinuousClock.now
        logger.info("detach started", metadata: ["volume": "\(record.volumeID)", "attachment": "\(record.id)", "force": "\(force)"])
        try await journal.beginDetach(id: record.id)
        do {
            try failpoints.hit(.detachJournaled)
            let connector = try connector(for: record.protocolName, mode: record.mode)
            try await connector.detach(Self.attachedVolume(record, connector: connector), attachmentID: record.id, force: force)
        } catch {
            if !force {
                logger.warning("detach failed; the attachment stays", metadata: ["attachment": "\(record.id)", "error": "\(error)"])
                do {
                    try await journal.cancelDetach(id: record.id)
                } catch let journalError {
                    var reported = (error as? TetherError) ?? TetherError(.internalError, "\(error)")
                    reported.message += "; and the journal could not record that the attachment stays: \(journalError)"
                    throw reported
                }
                await recordFailure(id: record.id, "detach failed: \(error)")
                throw error
            }
            logger.warning("detach error ignored (force): what it left is reported as an orphan by tether reconcile", metadata: ["attachment": "\(record.id)", "error": "\(error)"])
        }
        try failpoints.hit(.detachDisconnected)
        try await journal.finishDetach(id: record.id)
        logger.info("detach finished", metadata: ["volume": "\(record.volumeID)", "attachment": "\(record.id)", "elapsed": "\(ContinuousClock.now - started)"])
    }

    /// Makes the host see the volume's new size (rescan, map resize) and records it.
    func extend(_ reference: String) async throws -> AttachmentRecord {
        let volumeID = try await show(reference).volumeID
        return try await locks.withLock(volumeID) {
            let record = try await self.show(reference)
            guard record.state == .attached, var attached = record.result else {
                throw TetherError(.conflict, "attachment \(record.id) is \(record.state.rawValue), not attached")
            }
            let connector = try self.connector(for: record.protocolName, mode: record.mode)
            attached.sizeBytes = try await connector.extend(attached, attachmentID: record.id)
            try await self.journal.finishAttach(id: record.id, result: attached, keepingStatus: true)
            self.logger.info("extended", metadata: ["volume": "\(volumeID)", "attachment": "\(record.id)", "size": "\(attached.sizeBytes)"])
            return try await self.show(record.id)
        }
    }

    /// How long the list shows a look at an unchanged attachment before looking again: polling
    /// clients cost one round of looks per this, whatever their number; a change on the host
    /// that the journal does not know of shows within it (`tether show` always looks).
    static let listFreshness: Duration = .seconds(2)

    func list() async throws -> [AttachmentRecord] {
        try await journal.attachments()
    }

    func show(_ reference: String) async throws -> AttachmentRecord {
        guard let record = try await resolve(reference).first else {
            throw TetherError(.notFound, "no attachment or attached volume \(reference)", hint: "tether list shows what is attached")
        }
        return record
    }

    /// At start-up, before serving: attaches that were cut off are rolled back, detaches completed.
    /// One that cannot be finished now stays journaled with its error (`lastError`), for the
    /// reconciler to retry; the others still go on.
    func recover() async throws {
        for record in try await journal.attachments() where record.state != .attached {
            try await finishInterrupted(record)
        }
    }

    /// Rolls back an attach, or completes a detach, that was cut off or failed; true when done.
    @discardableResult
    func finishInterrupted(_ record: AttachmentRecord) async throws -> Bool {
        do {
            let connector = try connector(for: record.protocolName, mode: record.mode)
            try await connector.detach(Self.attachedVolume(record, connector: connector), attachmentID: record.id, force: true)
        } catch {
            await recordFailure(id: record.id, "\(record.state == .attaching ? "rollback" : "detach") failed: \(error)")
            logger.error(
                "could not finish an interrupted \(record.state == .attaching ? "attach" : "detach"); the reconciler retries",
                metadata: ["volume": "\(record.volumeID)", "attachment": "\(record.id)", "error": "\(error)"])
            return false
        }
        try await journal.finishDetach(id: record.id)
        logger.notice(
            record.state == .attaching ? "rolled back an interrupted attach" : "completed an interrupted detach",
            metadata: ["volume": "\(record.volumeID)", "attachment": "\(record.id)"])
        return true
    }

    // MARK: - Helpers

    /// Journals why a step failed. On a failure path already: a journal that cannot be written is
    /// logged, and the step's own error is what the caller reports.
    func recordFailure(id: String, _ message: String) async {
        do {
            try await journal.recordFailure(id: id, message)
        } catch {
            logger.error("cannot journal a failure", metadata: ["attachment": "\(id)", "failure": "\(message)", "error": "\(error)"])
        }
    }

    func connector(for driverVolumeType: String, mode: AttachMode) throws -> any Connector {
        let type = driverVolumeType.lowercased()
        if let connector = connectors.first(where: { $0.driverVolumeTypes.contains(type) && $0.mode == mode }) {
            return connector
        }
        let supported = connectors.filter { $0.mode == mode }.flatMap(\.driverVolumeTypes).sorted()
        if connectors.contains(where: { $0.driverVolumeTypes.contains(type) }) {
            throw TetherError(.unsupported, "\(type) volumes cannot be attached in \(mode.rawValue) mode on this node", hint: "use another --mode")
        }
        throw TetherError(
            .unsupported, "driver_volume_type \(type) is not supported",
            hint: "supported in \(mode.rawValue) mode: \(supported.isEmpty ? "none" : supported.joined(separator: ", "))")
    }

    /// The idempotency key: what the volume is reached through.
    static func targetKey(_ info: ConnectionInfo) throws -> String {
        switch info.driverVolumeType.lowercased() {
        case "iscsi", "iser":
            let data = try ISCSIConnectionData(info)
            let targets = Set(data.paths.map { "\($0.iqn):\($0.lun)" }).sorted()
            return "iscsi:" + targets.joined(separator: ",")
        case "rbd":
            let data = try RBDConnectionData(info)
            // The fsid when sent (a storage node's export): its cluster_name is that node's name.
            let cluster = data.clusterFSID.map { $0.uuidString.lowercased() } ?? data.clusterName ?? "-"
            return "rbd:\(cluster):\(data.pool)/\(data.image)"
        default:
            return "\(info.driverVolumeType):\(info.volumeID ?? "-")"
        }
    }

    func resolve(_ reference: String) async throws -> [AttachmentRecord] {
        try await journal.attachments(reference: reference)
    }

    static func microseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
    }

    /// What to undo for `record`: its result once attached, else what its attach may have left.
    static func attachedVolume(_ record: AttachmentRecord, connector: any Connector) -> AttachedVolume {
        if let attached = record.result { return attached }
        return connector.interruptedAttach(
            AttachRequest(
                attachmentID: record.id, volumeID: record.volumeID, connectionInfo: record.connectionInfo, mode: record.mode, accessMode: .readWrite,
                connector: ConnectorProperties()))
    }

    static func json<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

extension AttachmentService {
    /// How an attach may take a volume another client uses, and who asked (see `RBDClaim`).
    struct Takeover: Sendable {
        var force: Bool
        var breakLock: Bool
        var requestedBy: String
    }
}
