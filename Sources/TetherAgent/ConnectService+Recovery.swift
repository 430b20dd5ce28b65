import Foundation
import TetherAPI
import TetherCore

extension ConnectService {
    /// Finishes every unfinished connect or disconnect: at start, and then every retry interval
    /// while the storage node could not be told. What still fails keeps its record and its error.
    func recover() async {
        let pending: [ConnectionRecord]
        do {
            pending = try await journal.connections().filter { $0.state != .attached }
        } catch {
            logger.error("cannot read unfinished connects from the journal; retried next round", metadata: ["error": "\(error)"])
            return
        }
        guard let settings else {
            if !pending.isEmpty {
                logger.warning("unfinished connects in the journal but [connect] is not configured", metadata: ["hint": "configure [connect] in tether.toml"])
            }
            return
        }
        for stale in pending {
            do {
                try await locks.withLock(Self.lockKey(stale.volumeID)) {
                    // Re-read under the lock: a request may have finished it meanwhile.
                    guard let record = try await self.journal.connection(volume: stale.volumeID), record.state != .attached else { return }
                    try await self.settle(record, settings: settings)
                }
                logger.notice("finished an interrupted connect or disconnect", metadata: ["volume": "\(stale.volumeID)", "was": "\(stale.state.rawValue)"])
            } catch {
                logger.warning("cannot finish an interrupted connect or disconnect yet", metadata: ["volume": "\(stale.volumeID)", "error": "\(error)"])
            }
        }
    }

    /// Retries `recover` every `[connect] retry_interval` until the task is cancelled.
    func retryPending() async {
        guard let interval = settings?.retryInterval else { return }
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            await recover()
        }
    }

    /// Takes an unfinished record to its end: a disconnect is completed, anything else rolled back.
    func settle(_ record: ConnectionRecord, settings: ConnectSettings) async throws {
        var record = record
        do {
            if record.state == .detaching {
                try await finishDisconnect(&record, settings: settings)
            } else {
                try await rollBack(&record, settings: settings)
            }
        } catch {
            record.pendingError = Self.shortDescription(error)
            await savePending(record)
            throw error
        }
    }

    /// Undoes a connect at whatever step it stopped: the attachment here, then the export there.
    func rollBack(_ record: inout ConnectionRecord, settings: ConnectSettings) async throws {
        record.state = .rollingBack
        try await journal.saveConnection(record)
        if let local = record.localAttachmentID {
            _ = try await attachments.detach(local, force: true)
            record.localAttachmentID = nil
            try await journal.saveConnection(record)
        } else {
            // Cut off between the attach and its journaling here: AttachmentService journaled it
            // under this volume. connect refuses a volume attached before it started, so one made
            // since is this connect's.
            for attachment in try await attachments.list() where attachment.volumeID == record.volumeID && attachment.createdAt >= record.createdAt {
                _ = try await attachments.detach(attachment.id, force: true)
            }
        }
        try await revoke(record, settings: settings)
        try await journal.deleteConnection(volume: record.volumeID)
        logger.info("connect rolled back", metadata: ["volume": "\(record.volumeID)", "storage": "\(record.storage)"])
    }

    /// Revokes this node's initiator from the export on the storage node, unless the export was
    /// there before this connect. What the storage node already forgot is fine.
    func revoke(_ record: ConnectionRecord, settings: ConnectSettings) async throws {
        guard record.export != .existing else {
            logger.info("export left on the storage node: it was there before connect", metadata: ["volume": "\(record.volumeID)", "storage": "\(record.storage)"])
            return
        }
        let url = try StorageAgentURL(record.storage, field: "storage")
        let deletion = try await storageClient(url, settings).deleteExport(volumeID: record.volumeID, initiator: record.initiator)
        logger.info(
            "export revoked on the storage node",
            metadata: ["volume": "\(record.volumeID)", "storage": "\(record.storage)", "initiators": "\(deletion.initiatorsRemoved)", "target_removed": "\(deletion.targetRemoved)"])
    }

    /// Journals a record's pending error on a failure path. The operation's own error is what the
    /// caller reports; a journal that cannot be written is logged, so its error is not lost either.
    func savePending(_ record: ConnectionRecord) async {
        do {
            try await journal.saveConnection(record)
        } catch {
            logger.error("cannot journal why a connect is unfinished", metadata: ["volume": "\(record.volumeID)", "pending": "\(record.pendingError ?? "-")", "error": "\(error)"])
        }
    }
}
