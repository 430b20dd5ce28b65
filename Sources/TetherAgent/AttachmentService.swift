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
    let targets = DiskTargets()
    let failpoints: Failpoints

    init(journal: Journal, locks: VolumeLocks, connectors: [any Connector], node: ConnectorProperties, stats: OperationStats, logger: Logger, failpoints: Failpoints = Failpoints()) {
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
    func attach(_ request: CreateAttachmentRequest) async throws -> (AttachmentRecord, created: Bool) {
        do {
            // Here, not only in the route: local-attach hands over Cinder's connection_info too.
            // Inside the masking: a refused value may be a secret.
            try request.validate()
            return try await attachUnredacted(request)
        } catch {
            throw Redaction.redact(error, secrets: request.connectionInfo.secretValues)
        }
    }

    private func attachUnredacted(_ request: CreateAttachmentRequest) async throws -> (AttachmentRecord, created: Bool) {
        let info = request.connectionInfo
        let mode = request.mode ?? .network
        let connector = try self.connector(for: info.driverVolumeType, mode: mode)
        let target = try Self.targetKey(info)
        guard let volumeID = request.volumeID ?? info.volumeID, !volumeID.isEmpty else {
            throw TetherError.invalidInput("the request names no volume", hint: "set volume_id in the request or in connection_info.data")
        }
        let accessMode: AccessMode = request.readOnly == true ? .readOnly : try AccessMode(connectionInfoValue: info.data["access_mode"]?.stringValue)

        return try await locks.withLock(volumeID) {
            let existing = try await self.journal.attachments(volume: volumeID)
            if let same = existing.first(where: { $0.targetKey == target && $0.state == AttachmentRecord.State.attached }) {
                self.logger.info("volume already attached", metadata: ["volume": "\(volumeID)", "attachment": "\(same.id)"])
                return (same, false)
            }
            if let other = existing.first {
                throw TetherError(
                    .conflict, "volume \(volumeID) is already attached here through \(other.targetKey) (attachment \(other.id), \(other.state))",
                    hint: "detach it first: tether detach \(other.id)")
            }
            return try await self.stats.track(.attach, protocol: .init(journaled: info.driverVolumeType.lowercased()), mode: .init(mode)) {
                try await self.attachNew(volumeID: volumeID, info: info, target: target, mode: mode, accessMode: accessMode, connector: connector, force: request.force ?? false)
            }
        }
    }

    private func attachNew(
        volumeID: String, info: ConnectionInfo, target: String, mode: AttachMode, accessMode: AccessMode, connector: any Connector, force: Bool
    ) async throws -> (AttachmentRecord, created: Bool) {
        let now = Journal.now()
        var record = AttachmentRecord(
            id: UUID().uuidString.lowercased(), volumeID: volumeID, targetKey: target, protocolName: info.driverVolumeType.lowercased(),
            mode: mode.rawValue, state: AttachmentRecord.State.attaching, connectionInfo: try Self.json(info.redacted()), result: nil,
            createdAt: now, updatedAt: now)
        let started = ContinuousClock.now
        logger.info("attach started", metadata: ["volume": "\(volumeID)", "attachment": "\(record.id)", "target": "\(target)", "mode": "\(mode.rawValue)"])
        try await journal.beginAttach(record)
        let request = AttachRequest(
            attachmentID: record.id, volumeID: volumeID, connectionInfo: info, mode: mode, accessMode: accessMode, connector: node, force: force)
        do {
            try failpoints.hit(.attachJournaled)
            var attached = try await connector.attach(request)
            try failpoints.hit(.attachConnected)
            // Details may quote the connection_info (kernel RBD keeps it): the journal keeps none of its secrets.
            attached.details = attached.details.map { Redaction.redact($0) }
            try await withDiskTarget(for: &attached) { attached in
                let result = try Self.json(attached)
                try await self.journal.finishAttach(id: record.id, result: result)
                record.result = result
            }
            record.state = AttachmentRecord.State.attached
            try failpoints.hit(.attachRecorded)
            logger.info(
                "attach finished",
                metadata: ["volume": "\(volumeID)", "attachment": "\(record.id)", "wwid": "\(attached.wwid ?? "-")", "elapsed": "\(ContinuousClock.now - started)"])
            return (record, true)
        } catch {
            // Undo whatever the connector may have done, then forget the intent: the journal is as before.
            try? await connector.detach(connector.interruptedAttach(request), attachmentID: record.id, force: true)
            try await journal.abandonAttach(id: record.id)
            logger.warning(
                "attach failed", metadata: ["volume": "\(volumeID)", "attachment": "\(record.id)", "error": "\(Redaction.redact(error, secrets: info.secretValues))"])
            throw error
        }
    }

    /// Detaches by attachment id or by volume id. Nothing attached is not an error.
    func detach(_ reference: String, force: Bool) async throws -> [String] {
        let candidates = try await resolve(reference)
        guard let volumeID = candidates.first?.volumeID else { return [] }
        return try await locks.withLock(volumeID) {
            var detached: [String] = []
            // Re-read under the lock: another request may have changed it meanwhile.
            for record in try await self.resolve(reference) {
                try await self.stats.track(.detach, protocol: .init(journaled: record.protocolName), mode: .init(journaled: record.mode)) { try await self.detachOne(record, force: force) }
                detached.append(record.id)
            }
            return detached
        }
    }

    private func detachOne(_ record: AttachmentRecord, force: Bool) async throws {
        let started = ContinuousClock.now
        logger.info("detach started", metadata: ["volume": "\(record.volumeID)", "attachment": "\(record.id)", "force": "\(force)"])
        try await journal.beginDetach(id: record.id)
        do {
            try failpoints.hit(.detachJournaled)
            if let connector = try? connector(for: record.protocolName, mode: AttachMode(rawValue: record.mode) ?? .network) {
                try await connector.detach(try Self.attachedVolume(record, connector: connector), attachmentID: record.id, force: force)
            }
        } catch {
            if !force {
                try await journal.cancelDetach(id: record.id)
                throw error
            }
            logger.warning("detach error ignored (force)", metadata: ["attachment": "\(record.id)", "error": "\(error)"])
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
            guard record.state == AttachmentRecord.State.attached, var attached = try record.attached() else {
                throw TetherError(.conflict, "attachment \(record.id) is \(record.state), not attached")
            }
            let connector = try self.connector(for: record.protocolName, mode: AttachMode(rawValue: record.mode) ?? .network)
            attached.sizeBytes = try await connector.extend(attached, attachmentID: record.id)
            let updated = try Self.json(attached)
            try await self.journal.finishAttach(id: record.id, result: updated)
            self.logger.info("extended", metadata: ["volume": "\(volumeID)", "attachment": "\(record.id)", "size": "\(attached.sizeBytes)"])
            return try await self.show(record.id)
        }
    }

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
    func recover() async throws {
        for record in try await journal.attachments() where record.state != AttachmentRecord.State.attached {
            let mode = AttachMode(rawValue: record.mode) ?? .network
            if let connector = try? connector(for: record.protocolName, mode: mode) {
                try? await connector.detach(try Self.attachedVolume(record, connector: connector), attachmentID: record.id, force: true)
            }
            try await journal.finishDetach(id: record.id)
            logger.notice(
                record.state == AttachmentRecord.State.attaching ? "rolled back an interrupted attach" : "completed an interrupted detach",
                metadata: ["volume": "\(record.volumeID)", "attachment": "\(record.id)"])
        }
    }

    // MARK: - Helpers

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
            return "rbd:\(data.clusterName ?? "-"):\(data.pool)/\(data.image)"
        default:
            return "\(info.driverVolumeType):\(info.volumeID ?? "-")"
        }
    }

    /// Gives `attached`'s disk XML a target no other attachment of this node uses, and keeps it
    /// reserved while `journal` records the attachment.
    private func withDiskTarget(for attached: inout AttachedVolume, journal: (AttachedVolume) async throws -> Void) async throws {
        let xml = attached.diskXML
        guard let bus = DiskTarget.of(xml)?.bus else {
            return try await journal(attached)
        }
        // A result that does not decode names no target: nothing to avoid for it.
        let used = Set(try await self.journal.attachments().compactMap { record -> Int? in
            guard let attached = try? record.attached() else { return nil }
            return DiskTarget.of(attached.diskXML).flatMap { DiskTarget.index(of: $0.device) }
        })
        let index = try await targets.reserve(avoiding: used)
        attached.diskXML = DiskTarget(device: DiskTarget.name(index: index, bus: bus), bus: bus).rewrite(xml)
        do {
            try await journal(attached)
            await targets.release(index)
        } catch {
            await targets.release(index)
            throw error
        }
    }

    func resolve(_ reference: String) async throws -> [AttachmentRecord] {
        if let record = try await journal.attachment(id: reference) { return [record] }
        return try await journal.attachments(volume: reference)
    }

    static func attachedVolume(_ record: AttachmentRecord, connector: any Connector) throws -> AttachedVolume {
        if let attached = try record.attached() { return attached }
        let mode = AttachMode(rawValue: record.mode) ?? .network
        guard let info = try? ConnectionInfo(json: JSONDecoder().decode(JSONValue.self, from: Data(record.connectionInfo.utf8))) else {
            // Unreadable: still remove the secret files the attach may have written.
            return .partial(protocolName: record.protocolName, mode: mode, secretFiles: connector.secretFiles(forAttachment: record.id))
        }
        return connector.interruptedAttach(
            AttachRequest(attachmentID: record.id, volumeID: record.volumeID, connectionInfo: info, mode: mode, accessMode: .readWrite, connector: ConnectorProperties()))
    }

    static func json<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
