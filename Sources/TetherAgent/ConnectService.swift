import Foundation
import Logging
import TetherAPI
import TetherClient
import TetherCore

/// `connect` and `disconnect`: the storage node's agent (its TLS listener, role exporter) exports
/// the volume to this node's connector, and AttachmentService attaches it here. Both halves are
/// journaled before they are taken (`ConnectionRecord`), so a failure, a crash or a lost link
/// leaves a record this agent finishes: nothing stays exported to this node unless attached here.
public final class ConnectService: Sendable {
    let journal: Journal
    let locks: VolumeLocks
    let attachments: AttachmentService
    /// `[connect]`; nil: connect answers `not_configured`.
    let settings: ConnectSettings?
    let node: ConnectorProperties
    let logger: Logger
    let failpoints: Failpoints
    /// The storage agent's client for a URL; tests may pass another transport.
    let storageClient: @Sendable (StorageAgentURL, ConnectSettings) throws -> TetherAgentClient

    init(
        journal: Journal, locks: VolumeLocks, attachments: AttachmentService, settings: ConnectSettings?, node: ConnectorProperties, logger: Logger,
        failpoints: Failpoints = Failpoints(), storageClient: (@Sendable (StorageAgentURL, ConnectSettings) throws -> TetherAgentClient)? = nil
    ) {
        self.journal = journal
        self.locks = locks
        self.attachments = attachments
        self.settings = settings
        self.node = node
        self.logger = logger
        self.failpoints = failpoints
        self.storageClient = storageClient ?? Self.tlsClient
    }

    /// Mutual TLS with `[connect]`'s identity; each call bounded by `[connect] timeout`.
    @Sendable static func tlsClient(_ url: StorageAgentURL, _ settings: ConnectSettings) throws -> TetherAgentClient {
        let remote = try RemoteAgent(url: url.description, certificateFile: settings.certificateFile, keyFile: settings.keyFile, caFile: settings.caFile)
        return TetherAgentClient(transport: TLSHTTPClient(agent: remote, timeout: settings.timeout))
    }

    // MARK: - Connect

    /// Connects the volume here, or answers the connection that already exists.
    func connect(_ request: ConnectRequest) async throws -> (ConnectionBody, created: Bool) {
        try request.validate()
        let settings = try requireSettings()
        let url = try StorageAgentURL(request.storage, field: "storage")
        let volumeID = request.volume.id
        // Sorted keys: a repeated connect is compared with the journaled text.
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let exportVolume = String(decoding: try encoder.encode(request.volume), as: UTF8.self)
        // iSCSI exports are granted to an initiator; an RBD export names none (the compute node
        // reaches the cluster with the user the storage node gives out).
        let initiator = node.initiator.flatMap { $0.isEmpty ? nil : $0 }
        if request.volume.rbd == nil, initiator == nil {
            throw TetherError(.notConfigured, "this node has no iSCSI initiator name to export \(volumeID) to", hint: "set [iscsi] initiator in tether.toml")
        }
        return try await locks.withLock(Self.lockKey(volumeID)) {
            if try await self.journal.connection(volume: volumeID) == nil,
                let other = try await self.attachments.list().first(where: { $0.volumeID == volumeID })
            {
                throw TetherError(
                    .conflict, "volume \(volumeID) is already attached here outside connect (attachment \(other.id))",
                    hint: "detach it first: tether detach \(other.id)")
            }
            if let existing = try await self.journal.connection(volume: volumeID) {
                if existing.state == .attached {
                    guard existing.storage == url.description, existing.exportVolume == exportVolume else {
                        throw TetherError.invalidField(
                            existing.storage == url.description ? "volume" : "storage",
                            "volume \(volumeID) is connected from \(existing.storage) as \(existing.exportVolume), not as asked",
                            hint: "disconnect it first: tether disconnect \(volumeID)")
                    }
                    // Journaled is not attached: the attachment is checked (and repaired) first.
                    if let id = existing.localAttachmentID { try await self.attachments.verify(id) }
                    return (try await self.body(existing), false)
                }
                // An earlier connect or disconnect is unfinished: finish it before starting afresh.
                try await self.settle(existing, settings: settings)
            }
            return (try await self.connectNew(url: url, exportVolume: exportVolume, initiator: initiator, request: request, settings: settings), true)
        }
    }

    private func connectNew(
        url: StorageAgentURL, exportVolume: String, initiator: String?, request: ConnectRequest, settings: ConnectSettings
    ) async throws -> ConnectionBody {
        let volumeID = request.volume.id
        let now = Journal.now()
        var record = ConnectionRecord(
            volumeID: volumeID, storage: url.description, exportVolume: exportVolume, initiator: initiator, state: .exporting, export: .unknown,
            localAttachmentID: nil, mode: request.mode ?? .network, readOnly: request.readOnly ?? false, pendingError: nil, createdAt: now, updatedAt: now)
        try await journal.saveConnection(record)
        logger.info("connect started", metadata: ["volume": "\(volumeID)", "storage": "\(url)", "mode": "\(record.mode.rawValue)"])
        do {
            try await failpoints.reach(.connectJournaled)
            var connector = node
            connector.initiator = initiator
            let storage = try storageClient(url, settings)
            let exported: ExportResponse
            let created: Bool
            do {
                let answer = try await storage.createExport(CreateExportRequest(volume: request.volume, connector: connector))
                exported = answer.export
                created = answer.created
            } catch let error as TetherError where Self.answered(error) {
                // The storage agent answered with an error: it exported nothing (it undoes its
                // own failed export), so there is nothing to revoke there.
                try await journal.deleteConnection(volume: volumeID)
                throw Self.fromStorage(error, url: url)
            }
            record.export = created ? .created : .existing
            record.state = .exported
            try await journal.saveConnection(record)
            try await failpoints.reach(.connectExported)

            let (local, madeHere) = try await attachments.attach(
                CreateAttachmentRequest(connectionInfo: exported.connectionInfo, volumeID: volumeID, mode: record.mode, readOnly: record.readOnly))
            guard madeHere else {
                throw TetherError(
                    .conflict, "volume \(volumeID) is already attached here outside connect (attachment \(local.id))",
                    hint: "detach it first: tether detach \(local.id)")
            }
            record.localAttachmentID = local.id
            record.state = .attached
            try await journal.saveConnection(record)
            try await failpoints.reach(.connectAttached)
            logger.info("connected", metadata: ["volume": "\(volumeID)", "storage": "\(url)", "export": "\(record.export.rawValue)", "attachment": "\(local.id)"])
            return try await body(record)
        } catch let error where !(error is Failpoints.Crashed) {
            if try await journal.connection(volume: volumeID) == nil { throw error }
            logger.warning("connect failed; rolling back", metadata: ["volume": "\(volumeID)", "error": "\(error)"])
            throw await rollBackAfterFailure(&record, settings: settings, error: error)
        }
    }

    /// Rolls back a failed connect, and says what failed and what could not be undone yet.
    private func rollBackAfterFailure(_ record: inout ConnectionRecord, settings: ConnectSettings, error: any Error) async -> any Error {
        do {
            try await rollBack(&record, settings: settings)
            return error
        } catch let undo {
            record.pendingError = Self.shortDescription(undo)
            await savePending(record)
            var reported = (error as? TetherError) ?? TetherError(.internalError, "\(error)")
            reported.message += "; the undo is not finished (\(Self.shortDescription(undo))): tetherd retries it"
            reported.hint = reported.hint ?? "tether connections shows what is pending"
            return reported
        }
    }

    // MARK: - Disconnect

    /// Detaches here first, then revokes the export on the storage node. Nothing connected is not an error.
    func disconnect(volumeID: String) async throws -> DisconnectResponse {
        let settings = try requireSettings()
        return try await locks.withLock(Self.lockKey(volumeID)) {
            guard var record = try await self.journal.connection(volume: volumeID) else {
                return DisconnectResponse(volumeID: volumeID, disconnected: false)
            }
            if record.state == .attached || record.state == .detaching {
                try await self.finishDisconnect(&record, settings: settings)
            } else {
                try await self.rollBack(&record, settings: settings)
            }
            return DisconnectResponse(volumeID: volumeID, disconnected: true)
        }
    }

    func finishDisconnect(_ record: inout ConnectionRecord, settings: ConnectSettings) async throws {
        let wasAttached = record.state == .attached
        record.state = .detaching
        try await journal.saveConnection(record)
        if let local = record.localAttachmentID {
            do {
                _ = try await attachments.detach(local, force: true)
            } catch {
                if wasAttached {
                    // Still attached here: the export must stay too.
                    record.state = .attached
                    try await journal.saveConnection(record)
                }
                throw error
            }
            record.localAttachmentID = nil
            try await journal.saveConnection(record)
        }
        try await failpoints.reach(.disconnectDetached)
        do {
            try await revoke(record, settings: settings)
        } catch {
            record.pendingError = Self.shortDescription(error)
            await savePending(record)
            var reported = (error as? TetherError) ?? TetherError(.internalError, "\(error)")
            reported.message = "detached here, but the storage node was not told: \(reported.message); tetherd retries it"
            throw reported
        }
        try await journal.deleteConnection(volume: record.volumeID)
        logger.info("disconnected", metadata: ["volume": "\(record.volumeID)", "storage": "\(record.storage)"])
    }

    // MARK: - Queries

    func list() async throws -> [ConnectionBody] {
        var bodies: [ConnectionBody] = []
        for record in try await journal.connections() {
            bodies.append(try await body(record))
        }
        return bodies
    }

    func show(_ volumeID: String) async throws -> ConnectionBody {
        guard let record = try await journal.connection(volume: volumeID) else {
            throw TetherError(.notFound, "volume \(volumeID) is not connected here", hint: "tether connections shows what is")
        }
        return try await body(record)
    }

    // MARK: - Helpers

    func requireSettings() throws -> ConnectSettings {
        guard let settings else {
            throw TetherError(
                .notConfigured, "connect is not configured on this node",
                hint: "set [connect] cert, key and ca in /etc/tether/tether.toml (this agent's client certificate for the storage agents)")
        }
        return settings
    }

    /// Its own lock name: the attach inside takes the volume's lock.
    static func lockKey(_ volumeID: String) -> String { "connect:\(volumeID)" }

    /// Whether the storage agent answered (an HTTP error), rather than the call being cut off.
    static func answered(_ error: TetherError) -> Bool {
        ![TetherError.Code.agentUnavailable, .timedOut, .internalError].contains(error.code)
    }

    static func fromStorage(_ error: TetherError, url: StorageAgentURL) -> TetherError {
        var reported = error
        reported.message = "the storage agent at \(url) refused the export: \(error.message)"
        return reported
    }

    func body(_ record: ConnectionRecord) async throws -> ConnectionBody {
        var local: AttachmentBody?
        if let id = record.localAttachmentID, let attachment = try await journal.attachment(id: id) {
            local = try Routes.body(attachment)
        }
        return ConnectionBody(
            volumeID: record.volumeID, storage: record.storage, state: record.state.rawValue, export: record.export.rawValue, attachment: local,
            pendingError: record.pendingError)
    }

    static func shortDescription(_ error: any Error) -> String {
        (error as? TetherError).map { "\($0.code.rawValue): \($0.message)" } ?? "\(error)"
    }
}
