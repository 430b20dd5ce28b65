import Foundation
import Logging
import TetherAPI
import TetherCinder
import TetherCore

/// `local-attach` and `local-detach`: Cinder exports the volume to this node's connector, and
/// AttachmentService makes it usable here. Every step is journaled before it is taken, so a
/// failure, a crash or an unreachable Cinder leaves a record the agent finishes or rolls back.
public final class LocalAttachService: Sendable {
    let journal: Journal
    let locks: VolumeLocks
    let attachments: AttachmentService
    let cinder: CinderClient?
    /// Why Cinder is off although configured: a secret file others may read.
    let refusal: CinderSettings.RefusedSecretFile?
    let node: ConnectorProperties
    let stats: OperationStats
    let logger: Logger
    /// The mode of a request that names none (`[local_attach] mode`).
    let modeRule: LocalAttachModeRule
    /// What `auto` asks; nil: the kernel is taken to support nothing.
    let kernelSupport: KernelSupport?
    let failpoints: Failpoints
    /// What a request with the caller's credentials takes from `[cinder]`.
    let callerDefaults: CallerDefaults

    init(
        journal: Journal, locks: VolumeLocks, attachments: AttachmentService, cinder: CinderClient?, refusal: CinderSettings.RefusedSecretFile? = nil,
        node: ConnectorProperties, stats: OperationStats, logger: Logger, modeRule: LocalAttachModeRule = .auto, kernelSupport: KernelSupport? = nil,
        failpoints: Failpoints = Failpoints(), callerDefaults: CallerDefaults = CallerDefaults()
    ) {
        self.callerDefaults = callerDefaults
        self.failpoints = failpoints
        self.modeRule = modeRule
        self.kernelSupport = kernelSupport
        self.journal = journal
        self.locks = locks
        self.attachments = attachments
        self.cinder = cinder
        self.refusal = refusal
        self.node = node
        self.stats = stats
        self.logger = logger
    }

    // MARK: - Attach

    /// Attaches the Cinder volume here, or answers the local attachment that already exists.
    /// - Parameter peer: who asked (the API peer's credentials), for the log of a forced take-over.
    func attach(_ request: LocalAttachRequest, peer: String = "unknown") async throws -> (LocalAttachmentBody, created: Bool) {
        let client = try await cinder(for: request.auth)
        let volumeID = try Self.validVolumeID(request.volumeID)
        return try await locks.withLock(Self.lockKey(volumeID)) {
            if let existing = try await self.journal.cinderAttachment(volume: volumeID) {
                if existing.state == .attached {
                    // Journaled is not attached: the local attachment is checked (and repaired)
                    // first, and the answer carries what was found.
                    if let id = existing.localAttachmentID {
                        try await self.attachments.verify(id)
                    }
                    return (try await self.body(existing), false)
                }
                // An earlier attach or detach is unfinished: finish it before starting afresh.
                try await self.settle(existing, client: client)
            }
            return try await self.stats.track(.localAttach, protocol: .cinder, mode: .init(request.mode ?? .network)) {
                (try await self.attachNew(volumeID: volumeID, request: request, client: client, peer: peer), true)
            }
        }
    }

    private func attachNew(volumeID: String, request: LocalAttachRequest, client: CinderClient, peer: String) async throws -> LocalAttachmentBody {
        let watch = StopWatch()
        let version = try await watch.time { try await client.microversion() }
        let volume = try await watch.time { try await client.volume(volumeID) }
        try Self.checkAttachable(volume)
        let wantsReadOnly = request.readOnly ?? false
        // Below 3.54 an attachment cannot be made read-only: the legacy os-attach can.
        let flow = version >= .attachments && !(wantsReadOnly && version < Microversion(3, 54))
            ? CinderAttachmentRecord.Flow.attachments : CinderAttachmentRecord.Flow.legacy
        let connector = self.connector(multipath: request.multipath)
        // The protocol, and so `auto`'s answer, is known once Cinder exported the volume: until
        // then the journal holds the fixed rule's mode (network for auto), corrected below.
        var mode = request.mode ?? (modeRule == .kernel ? .kernel : .network)
        let now = Journal.now()
        var record = CinderAttachmentRecord(
            volumeID: volumeID, flow: flow, microversion: version.description, state: CinderAttachmentRecord.State.creating, cinderAttachmentID: nil,
            localAttachmentID: nil, mode: mode, readOnly: wantsReadOnly, connector: try AttachmentService.json(connector), pendingError: nil,
            createdAt: now, updatedAt: now)
        try await journal.saveCinderAttachment(record)
        logger.info("local attach started", metadata: ["volume": "\(volumeID)", "flow": "\(flow)", "microversion": "\(version)", "mode": "\(request.mode?.rawValue ?? modeRule.rawValue)"])
        do {
            try failpoints.hit(.localAttachCreating)
            let info: ConnectionInfo
            if flow == CinderAttachmentRecord.Flow.attachments {
                let created = try await watch.time {
                    try await client.createAttachment(volumeID: volumeID, connector: connector, mode: wantsReadOnly ? .readOnly : .readWrite)
                }
                try failpoints.hit(.localAttachCinderReserved)
                record.cinderAttachmentID = created.id
                record.state = CinderAttachmentRecord.State.created
                // Cinder's attach_mode decides, not connection_info's access_mode (which says rw regardless).
                record.readOnly = wantsReadOnly || created.attachMode == "ro"
                try await journal.saveCinderAttachment(record)
                try failpoints.hit(.localAttachCreated)
                guard let connection = created.connectionInfo else {
                    throw TetherError(.cinderFailed, "Cinder created attachment \(created.id) of volume \(volumeID) without connection_info", hint: "check cinder-volume's log")
                }
                info = connection
            } else {
                try await watch.time { try await client.reserve(volumeID) }
                try failpoints.hit(.localAttachCinderReserved)
                record.state = CinderAttachmentRecord.State.created
                try await journal.saveCinderAttachment(record)
                try failpoints.hit(.localAttachCreated)
                info = try await watch.time { try await client.initializeConnection(volumeID, connector: connector) }
                record.readOnly = wantsReadOnly || info.data["access_mode"]?.stringValue == "ro"
            }

            if request.mode == nil {
                mode = await defaultMode(for: info)
                record.mode = mode
            }
            let (local, madeHere) = try await attachments.attach(
                CreateAttachmentRequest(connectionInfo: info, volumeID: volumeID, mode: mode, readOnly: record.readOnly, force: request.force), peer: peer)
            guard madeHere else {
                throw TetherError(
                    .conflict, "volume \(volumeID) is already attached here outside local-attach (attachment \(local.id))",
                    hint: "detach it first: tether detach \(local.id)")
            }
            record.localAttachmentID = local.id
            record.state = CinderAttachmentRecord.State.connected
            try await journal.saveCinderAttachment(record)
            try failpoints.hit(.localAttachConnected)

            if let attachmentID = record.cinderAttachmentID {
                try await watch.time { try await client.completeAttachment(attachmentID) }
            } else {
                let mountpoint = try Routes.body(local).devicePath ?? "/dev/disk/by-tether/\(volumeID)"
                try await watch.time {
                    try await client.attach(volumeID, hostName: connector.host ?? "tether", mountpoint: mountpoint, mode: record.readOnly ? .readOnly : .readWrite)
                }
            }
            try failpoints.hit(.localAttachCinderCompleted)
            record.state = CinderAttachmentRecord.State.attached
            try await journal.saveCinderAttachment(record)
            try failpoints.hit(.localAttachAttached)
            logger.info(
                "local attach finished",
                metadata: ["volume": "\(volumeID)", "cinder_attachment": "\(record.cinderAttachmentID ?? "-")", "elapsed": "\(watch.total)", "in_cinder": "\(watch.measured)"])
            var body = try await self.body(record)
            body.timing = Self.timing(watch)
            return body
        } catch {
            logger.warning("local attach failed; rolling back", metadata: ["volume": "\(volumeID)", "error": "\(error)"])
            throw await rollBackAfterFailure(&record, client: client, error: error)
        }
    }

    /// Rolls back a failed attach, and says what failed and what could not be undone yet.
    private func rollBackAfterFailure(_ record: inout CinderAttachmentRecord, client: CinderClient, error: any Error) async -> any Error {
        do {
            try await rollBack(&record, client: client)
            return error
        } catch let undo {
            record.pendingError = "\(undo)"
            await savePending(record)
            var reported = (error as? TetherError) ?? TetherError(.internalError, "\(error)")
            reported.message += "; the rollback is not finished (\(Self.shortDescription(undo))): tetherd retries it"
            reported.hint = reported.hint ?? "tether local-list shows what is pending"
            return reported
        }
    }

    // MARK: - Detach

    /// Detaches here first, then tells Cinder (with the caller's credentials when given). Nothing
    /// attached is not an error.
    func detach(volumeID reference: String, force: Bool, auth: CallerCredentials? = nil) async throws -> LocalDetachResponse {
        let client = try await cinder(for: auth)
        let volumeID = try Self.validVolumeID(reference)
        return try await locks.withLock(Self.lockKey(volumeID)) {
            guard var record = try await self.journal.cinderAttachment(volume: volumeID) else {
                return LocalDetachResponse(volumeID: volumeID, detached: false)
            }
            let watch = StopWatch()
            try await self.stats.track(.localDetach, protocol: .cinder, mode: .init(record.mode)) {
                if record.state == CinderAttachmentRecord.State.attached || record.state == CinderAttachmentRecord.State.detaching {
                    try await self.finishDetach(&record, client: client, force: force, watch: watch)
                } else {
                    try await self.rollBack(&record, client: client, watch: watch)
                }
            }
            return LocalDetachResponse(volumeID: volumeID, detached: true, timing: Self.timing(watch))
        }
    }

    func finishDetach(_ record: inout CinderAttachmentRecord, client: CinderClient, force: Bool, watch: StopWatch = StopWatch()) async throws {
        let wasAttached = record.state == CinderAttachmentRecord.State.attached
        record.state = CinderAttachmentRecord.State.detaching
        try await journal.saveCinderAttachment(record)
        try failpoints.hit(.localDetachDetaching)
        if let local = record.localAttachmentID {
            do {
                _ = try await attachments.detach(local, force: force)
            } catch {
                if wasAttached {
                    // Still attached here: Cinder must keep its attachment too.
                    record.state = CinderAttachmentRecord.State.attached
                    try await journal.saveCinderAttachment(record)
                }
                throw error
            }
            record.localAttachmentID = nil
            try await journal.saveCinderAttachment(record)
        }
        try failpoints.hit(.localDetachDetached)
        do {
            try await releaseInCinder(record, client: client, watch: watch)
        } catch {
            record.pendingError = "\(error)"
            await savePending(record)
            var reported = (error as? TetherError) ?? TetherError(.cinderFailed, "\(error)")
            reported.message = "detached here, but Cinder was not told: \(reported.message); tetherd retries it"
            throw reported
        }
        try failpoints.hit(.localDetachCinderReleased)
        try await journal.deleteCinderAttachment(volume: record.volumeID)
        logger.info("local detach finished", metadata: ["volume": "\(record.volumeID)", "elapsed": "\(watch.total)", "in_cinder": "\(watch.measured)"])
    }

    // MARK: - Queries

    func list() async throws -> [LocalAttachmentBody] {
        var bodies: [LocalAttachmentBody] = []
        for record in try await journal.cinderAttachments() {
            bodies.append(try await body(record))
        }
        return bodies
    }

    func show(_ volumeID: String) async throws -> LocalAttachmentBody {
        guard let record = try await journal.cinderAttachment(volume: volumeID) else {
            throw TetherError(.notFound, "volume \(volumeID) is not local-attached here", hint: "tether local-list shows what is")
        }
        return try await body(record)
    }

    // MARK: - initialize / terminate connection

    func initializeConnection(volumeID: String, multipath: Bool?) async throws -> CinderConnectionBody {
        let client = try requireCinder()
        let connector = self.connector(multipath: multipath)
        let info = try await client.initializeConnection(try Self.validVolumeID(volumeID), connector: connector)
        // The backend's CHAP password is Cinder's to hand out, not this agent's: the answer names it masked.
        return CinderConnectionBody(volumeID: volumeID, connector: connector, connectionInfo: info.redacted())
    }

    func terminateConnection(volumeID: String, multipath: Bool?) async throws -> CinderConnectionBody {
        let client = try requireCinder()
        let connector = self.connector(multipath: multipath)
        try await client.terminateConnection(try Self.validVolumeID(volumeID), connector: connector)
        return CinderConnectionBody(volumeID: volumeID, connector: connector, connectionInfo: nil)
    }

    // MARK: - Helpers

    /// This node's connector as Cinder is to see it: the request's multipath choice, else tether.toml's.
    func connector(multipath: Bool?) -> ConnectorProperties {
        var connector = node
        connector.multipath = multipath ?? node.multipath
        return connector
    }

    func requireCinder() throws -> CinderClient {
        if let refusal {
            throw TetherError(.notConfigured, refusal.description, hint: "\(refusal.problem.hint), then restart tetherd")
        }
        guard let cinder else {
            throw TetherError(
                .notConfigured, "Cinder is not configured on this node",
                hint: "set [cinder] in /etc/tether/tether.toml (endpoint, auth_type ...) or the OS_* variables in tetherd's environment, or pass yours: tether local-attach --os-cloud NAME")
        }
        return cinder
    }

    /// Its own lock name: the local attach inside takes the volume's lock.
    static func lockKey(_ volumeID: String) -> String { "cinder:\(volumeID)" }

    static func validVolumeID(_ text: String) throws -> String {
        let id = text.trimmingCharacters(in: .whitespaces)
        guard !id.isEmpty, id.count <= 64, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw TetherError.invalidInput("\"\(text)\" is not a Cinder volume id", hint: "use the volume's UUID (openstack volume list)")
        }
        return id
    }

    static func checkAttachable(_ volume: CinderVolume) throws {
        // Before anything is asked of Cinder or journaled; AttachmentService refuses an
        // encrypted connection_info too, for Cinders that do not say it here.
        if volume.encrypted {
            throw TetherError(
                .unsupported, "volume \(volume.id) is encrypted: encrypted volumes are not supported; attaching it would hand the guest the raw ciphertext",
                hint: "use an unencrypted volume type, or attach this volume through Nova, which sets up its LUKS layer")
        }
        switch volume.status {
        case "available":
            return
        case "in-use" where volume.multiattach:
            return
        case "error", "error_restoring", "error_extending", "error_managing":
            throw TetherError(
                .conflict, "volume \(volume.id) is in status \(volume.status) in Cinder and cannot be attached",
                hint: "see why in cinder-volume's log; fix it or delete it (openstack volume show \(volume.id))")
        default:
            throw TetherError(
                .conflict, "volume \(volume.id) is \(volume.status) in Cinder; local-attach needs it available",
                hint: volume.status == "in-use" ? "it is attached elsewhere; detach it there first" : "wait until Cinder finishes with it")
        }
    }

    func body(_ record: CinderAttachmentRecord) async throws -> LocalAttachmentBody {
        var local: AttachmentBody?
        if let id = record.localAttachmentID, let attachment = try await journal.attachment(id: id) {
            local = try Routes.body(attachment)
        }
        return LocalAttachmentBody(
            volumeID: record.volumeID, flow: record.flow.rawValue, microversion: record.microversion, cinderAttachmentID: record.cinderAttachmentID,
            state: record.state.rawValue, readOnly: record.readOnly, attachment: local, pendingError: record.pendingError)
    }

    static func timing(_ watch: StopWatch) -> LocalAttachmentBody.Timing {
        .init(cinderMilliseconds: StopWatch.milliseconds(watch.measured), totalMilliseconds: StopWatch.milliseconds(watch.total))
    }

    static func shortDescription(_ error: any Error) -> String {
        (error as? TetherError).map { "\($0.code): \($0.message)" } ?? "\(error)"
    }
}
