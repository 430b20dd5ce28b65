import Foundation
import Logging
import TetherAPI
import TetherCore
import TetherRBD

/// Target-side initialize/terminate connection: one export per volume, one grant (ACL entry and
/// CHAP account) per initiator. The journal holds the wanted state and is written first; the
/// exporter makes the target match it, so a restart (of tgtd or the agent) restores every export.
public final class ExportService: Sendable {
    let journal: Journal
    let locks: VolumeLocks
    let exporter: any Exporter
    let host: any TetherCore.Host
    let iqnPrefix: String
    let rbd: RBDExporter?
    /// `[target] backing_dirs`: where backing files and devices may be; empty: none may.
    let backingDirectories: [String]
    let stats: OperationStats
    let logger: Logger
    let failpoints: Failpoints

    init(
        journal: Journal, locks: VolumeLocks, exporter: any Exporter, host: any TetherCore.Host, iqnPrefix: String, rbd: RBDExporter? = nil,
        backingDirectories: [String] = [], stats: OperationStats, logger: Logger, failpoints: Failpoints = Failpoints()
    ) {
        self.failpoints = failpoints
        self.rbd = rbd
        self.backingDirectories = backingDirectories
        self.journal = journal
        self.locks = locks
        self.exporter = exporter
        self.host = host
        self.iqnPrefix = iqnPrefix
        self.stats = stats
        self.logger = logger
    }

    /// initialize_connection: exports the volume to the connector's initiator. Idempotent.
    func create(_ request: CreateExportRequest) async throws -> (ExportResponse, created: Bool) {
        try request.validate()
        if let image = request.volume.rbd {
            return try await createRBD(volumeID: request.volume.id, image: image)
        }
        var canonical = request.volume
        guard let requested = canonical.path else {
            throw TetherError.missingField("volume.path", in: "the export request")
        }
        guard let initiator = request.connector.initiator, !initiator.isEmpty else {
            throw TetherError.missingField("initiator", in: "connector")
        }
        guard !exporter.portals.isEmpty else {
            throw TetherError(.unsupported, "this node serves no iSCSI portal", hint: "set [target] portals in tether.toml")
        }
        let path = try await backingPath(requested)
        canonical.path = path
        let volume = canonical
        return try await locks.withLock("export:\(volume.id)") {
            try await self.stats.track(.export, protocol: .iscsi, mode: .target) {
                if let image = try await self.journal.rbdExport(volume: volume.id) {
                    throw TetherError(
                        .conflict, "volume \(volume.id) is exported as RBD image \(image.cluster)/\(image.pool)/\(image.image), not from \(path)",
                        hint: "delete that export first (tether export delete \(volume.id)), or use another volume id")
                }
                let previous = try await self.journal.export(volume: volume.id)
                if let (record, _) = previous, record.path != path {
                    throw TetherError(
                        .conflict, "volume \(volume.id) is exported from \(record.path), not \(path)",
                        hint: "delete the export first, or pass the same path")
                }
                try await self.prepareBacking(volume, exists: previous != nil)
                let record: ExportRecord
                if let existing = previous?.0 {
                    record = existing
                } else {
                    record = try await self.newRecord(volume)
                }
                var grants = previous?.1 ?? []
                let created: Bool
                if grants.contains(where: { $0.initiator == initiator }) {
                    created = false
                } else {
                    grants.append(GrantRecord(volumeID: volume.id, initiator: initiator, chapUser: Self.chapUser(volume: volume.id, initiator: initiator), chapPassword: Secret.random().reveal { $0 }))
                    created = true
                }
                try await self.journal.saveExport(record, grants: grants)
                do {
                    try self.failpoints.hit(.exportJournaled)
                    try await self.exporter.apply(Self.spec(record, grants))
                    try self.failpoints.hit(.exportApplied)
                } catch {
                    do {
                        try await self.restore(previous, after: record)
                    } catch let undo {
                        var reported = (error as? TetherError) ?? TetherError(.internalError, "\(error)")
                        reported.message += "; undoing it failed too: \(undo)"
                        throw reported
                    }
                    throw error
                }
                if created {
                    self.logger.info("exported", metadata: ["volume": "\(volume.id)", "initiator": "\(initiator)", "target": "\(record.targetIQN)"])
                }
                let grant = grants.first { $0.initiator == initiator }!
                let spec = Self.spec(record, grants)
                return (ExportResponse(connectionInfo: spec.connectionInfo(for: grant.grant, portals: self.exporter.portals), export: self.body(record, grants)), created)
            }
        }
    }

    /// terminate_connection: revokes one initiator (or all); the target goes with the last one.
    func delete(volumeID: String, initiator: String?) async throws -> ExportDeletion {
        try await locks.withLock("export:\(volumeID)") {
            if try await self.journal.rbdExport(volume: volumeID) != nil {
                return try await self.stats.track(.unexport, protocol: .rbd, mode: .target) { try await self.deleteRBD(volumeID: volumeID) }
            }
            return try await self.stats.track(.unexport, protocol: .iscsi, mode: .target) {
                guard let (record, grants) = try await self.journal.export(volume: volumeID) else {
                    return ExportDeletion(volumeID: volumeID, initiatorsRemoved: [], targetRemoved: false)
                }
                let removed = grants.filter { initiator == nil || $0.initiator == initiator }
                guard !removed.isEmpty else {
                    return ExportDeletion(volumeID: volumeID, initiatorsRemoved: [], targetRemoved: false)
                }
                let remaining = grants.filter { initiator != nil && $0.initiator != initiator }
                if remaining.isEmpty {
                    let intent = IntentRecord(id: "unexport:\(volumeID)", kind: IntentRecord.Kind.unexport, volumeID: volumeID, attachmentID: nil, createdAt: Journal.now())
                    try await self.journal.addIntent(intent)
                    try self.failpoints.hit(.unexportJournaled)
                    try await self.exporter.remove(Self.spec(record, grants))
                    try self.failpoints.hit(.unexportRemoved)
                    try await self.journal.deleteExport(volume: volumeID)
                } else {
                    try await self.journal.saveExport(record, grants: remaining)
                    try self.failpoints.hit(.revokeJournaled)
                    try await self.exporter.apply(Self.spec(record, remaining))
                }
                self.logger.info("unexported", metadata: ["volume": "\(volumeID)", "initiators": "\(removed.map(\.initiator))", "target_removed": "\(remaining.isEmpty)"])
                return ExportDeletion(volumeID: volumeID, initiatorsRemoved: removed.map(\.initiator), targetRemoved: remaining.isEmpty)
            }
        }
    }

    /// RBD changes nothing in the cluster: the answer is computed and the image checked. The
    /// journal remembers the export so that only the first call is `created`, and a volume id
    /// cannot name two images (or an iSCSI export and an image) at once.
    private func createRBD(volumeID: String, image: CreateExportRequest.RBDImage) async throws -> (ExportResponse, created: Bool) {
        guard let rbd else {
            throw TetherError(.unsupported, "this agent exports no RBD volumes")
        }
        guard !volumeID.isEmpty else { throw TetherError.missingField("volume.id", in: "the export request") }
        return try await locks.withLock("export:\(volumeID)") {
            if try await self.journal.export(volume: volumeID) != nil {
                throw TetherError(
                    .conflict, "volume \(volumeID) is exported over iSCSI, not as RBD image \(image.cluster)/\(image.pool)/\(image.image)",
                    hint: "delete that export first (tether export delete \(volumeID)), or use another volume id")
            }
            let export = try await self.stats.track(.export, protocol: .rbd, mode: .target) {
                try await rbd.initializeConnection(volumeID: volumeID, cluster: image.cluster, pool: image.pool, image: image.image, user: image.user)
            }
            let record = RBDExportRecord(
                volumeID: volumeID, cluster: export.cluster.name, pool: image.pool, image: image.image, user: export.user.name, createdAt: Journal.now())
            let previous = try await self.journal.rbdExport(volume: volumeID)
            if let previous, !previous.sameImage(as: record) {
                throw TetherError.invalidField(
                    "volume.rbd", "volume \(volumeID) is already exported as \(previous.cluster)/\(previous.pool)/\(previous.image) (user \(previous.user)), not \(record.cluster)/\(record.pool)/\(record.image) (user \(record.user))",
                    hint: "delete the export first (tether export delete \(volumeID)), or name the same image")
            }
            if previous == nil {
                try await self.journal.saveRBDExport(record)
                self.logger.info("exported", metadata: ["volume": "\(volumeID)", "rbd": "\(record.cluster)/\(record.pool)/\(record.image)", "user": "\(record.user)"])
            }
            return (ExportResponse(connectionInfo: export.connectionInfo, export: self.body(previous ?? record, portals: export.cluster.portals)), previous == nil)
        }
    }

    /// terminate_connection for RBD: forgets the export (the cluster holds nothing to revoke).
    private func deleteRBD(volumeID: String) async throws -> ExportDeletion {
        let removed = try await journal.deleteRBDExport(volume: volumeID)
        if removed { logger.info("unexported", metadata: ["volume": "\(volumeID)", "protocol": "rbd"]) }
        return ExportDeletion(volumeID: volumeID, initiatorsRemoved: [], targetRemoved: removed)
    }

    func list() async throws -> [ExportBody] {
        var bodies = try await journal.exports().map { body($0.0, $0.1) }
        for record in try await journal.rbdExports() {
            let portals = await rbd?.registry().cluster(named: record.cluster)?.portals ?? []
            bodies.append(body(record, portals: portals))
        }
        return bodies
    }

    /// At start-up: finish interrupted removals and put every journaled export back on the target.
    /// A failure is logged per export; the agent still starts and the others are restored.
    func restore() async {
        do {
            let pendingRemovals = Set(try await journal.intents().filter { $0.kind == IntentRecord.Kind.unexport }.map(\.volumeID))
            for (record, grants) in try await journal.exports() {
                do {
                    if pendingRemovals.contains(record.volumeID) {
                        try await exporter.remove(Self.spec(record, grants))
                        try await journal.deleteExport(volume: record.volumeID)
                        logger.notice("completed an interrupted unexport", metadata: ["volume": "\(record.volumeID)"])
                    } else {
                        try await exporter.apply(Self.spec(record, grants))
                    }
                } catch {
                    logger.error("cannot restore export", metadata: ["volume": "\(record.volumeID)", "error": "\(error)"])
                }
            }
        } catch {
            logger.error("cannot read exports from the journal", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Helpers

    private func restore(_ previous: (ExportRecord, [GrantRecord])?, after record: ExportRecord) async throws {
        // The journal first: it is what a restart re-applies to tgtd. An error undoing tgtd's side
        // is logged, not thrown: the caller reports the failure that brought it here.
        do {
            if let (oldRecord, oldGrants) = previous {
                try await journal.saveExport(oldRecord, grants: oldGrants)
                try await exporter.apply(Self.spec(oldRecord, oldGrants))
            } else {
                try await journal.deleteExport(volume: record.volumeID)
                try await exporter.remove(Self.spec(record, []))
            }
        } catch {
            logger.error(
                "could not undo a failed export on the target; tetherd re-applies the journal's exports at start",
                metadata: ["volume": "\(record.volumeID)", "error": "\(error)"])
            throw error
        }
    }

    private func newRecord(_ volume: CreateExportRequest.Volume) async throws -> ExportRecord {
        var taken = try await journal.takenTargetNumbers()
        if let exporter = exporter as? any TargetNumbering {
            taken.formUnion(try await exporter.takenTargetNumbers())
        }
        let number = (1...).first { !taken.contains($0) }!
        return ExportRecord(
            volumeID: volume.id, path: volume.path ?? "", sizeBytes: volume.sizeBytes.flatMap { Int64(exactly: $0) }, targetNumber: number,
            targetIQN: Self.iqn(prefix: iqnPrefix, volume: volume.id), lun: 1, scsiID: ExportSpec.scsiID(forVolume: volume.id), createdAt: Journal.now())
    }

    /// Creates a missing backing file when a size is given; checks an existing one is big enough.
    private func prepareBacking(_ volume: CreateExportRequest.Volume, exists: Bool) async throws {
        let path = volume.path ?? ""
        let size = try await host.fileSize(path)
        guard let size else {
            guard let wanted = volume.sizeBytes, !exists else {
                throw TetherError(.notFound, "the backing store \(path) does not exist", hint: "give size_bytes to create a sparse file, or pass an existing file or block device")
            }
            try await host.createSparseFile(path, size: wanted, mode: 0o600)
            return
        }
        if let wanted = volume.sizeBytes, size < wanted {
            throw TetherError.invalidField("volume.size_bytes", "\(wanted) is more than the \(size) bytes \(path) has", hint: "grow the backing store first")
        }
    }

    /// Where `requested` really leads, checked against `[target] backing_dirs`: the canonical
    /// path (symlinks resolved) of an existing regular file or block device inside one of the
    /// directories, or a new file's name in such a directory (created later, with O_EXCL, so a
    /// link put there meanwhile is not followed).
    /// - Throws: `unsupported` when no directory is configured; `invalid_input` naming `volume.path`.
    func backingPath(_ requested: String) async throws -> String {
        let field: FieldPath = "volume.path"
        guard !backingDirectories.isEmpty else {
            throw TetherError(
                .unsupported, "file exports are off on this node: [target] backing_dirs is empty",
                hint: "list the directories that may hold backing files or devices in tether.toml [target] backing_dirs")
        }
        var allowed: [String] = []
        for directory in backingDirectories {
            if let canonical = await host.resolvePath(directory) { allowed.append(canonical) }
        }
        let listed = backingDirectories.joined(separator: ", ")
        if let canonical = await host.resolvePath(requested) {
            guard BackingPathGrammar.isInside(canonical, allowed) else {
                throw TetherError.invalidField(
                    field, "\(requested) resolves to \(canonical), outside [target] backing_dirs (\(listed))",
                    hint: "put the backing store inside one of those directories")
            }
            let kind = try await host.fileKind(canonical)
            guard kind == .regular || kind == .blockDevice else {
                throw TetherError.invalidField(
                    field, "\(canonical) is a \(kind?.rawValue ?? "missing file"), not a regular file or block device",
                    hint: "export a file or a block device")
            }
            return canonical
        }
        let name = (requested as NSString).lastPathComponent
        let parent = (requested as NSString).deletingLastPathComponent
        guard let directory = await host.resolvePath(parent), try await host.fileKind(directory) == .directory,
            allowed.contains(directory) || BackingPathGrammar.isInside(directory, allowed)
        else {
            throw TetherError.invalidField(
                field, "\(requested) is not inside [target] backing_dirs (\(listed))",
                hint: "create the backing store inside one of those directories")
        }
        return directory + "/" + name
    }

    static func iqn(prefix: String, volume: String) -> String {
        let name = volume.lowercased().map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "-" }
        return "\(prefix):\(String(name))"
    }

    /// A CHAP user per (volume, initiator): tgt's accounts are global, so names must not collide.
    static func chapUser(volume: String, initiator: String) -> String {
        "tether-" + SHA256.hex(of: Array("\(volume)\n\(initiator)".utf8)).prefix(16)
    }

    static func spec(_ record: ExportRecord, _ grants: [GrantRecord]) -> ExportSpec {
        ExportSpec(
            volume: ExportVolume(id: record.volumeID, path: record.path, sizeBytes: record.sizeBytes.flatMap { UInt64(exactly: $0) }),
            targetNumber: record.targetNumber, targetIQN: record.targetIQN, lun: record.lun, scsiID: record.scsiID, grants: grants.map(\.grant))
    }

    /// An RBD export as the API shows it: the cluster's name where iSCSI has the target.
    func body(_ record: RBDExportRecord, portals: [Portal]) -> ExportBody {
        ExportBody(
            protocolName: "rbd", volumeID: record.volumeID, path: "\(record.pool)/\(record.image)", targetIQN: record.cluster, lun: 0,
            portals: portals.map(\.description), initiators: [], wwid: "")
    }

    func body(_ record: ExportRecord, _ grants: [GrantRecord]) -> ExportBody {
        ExportBody(
            volumeID: record.volumeID, path: record.path, targetIQN: record.targetIQN, lun: record.lun,
            portals: exporter.portals.map(\.description), initiators: grants.map(\.initiator), wwid: "naa.6" + record.scsiID)
    }
}
