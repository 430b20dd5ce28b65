import Foundation
import TetherCinder
import TetherCore

extension LocalAttachService {
    /// Finishes every unfinished local attach or detach: at start, and then every retry interval
    /// while Cinder could not be told. What still fails keeps its record and its error.
    func recover() async {
        let pending: [CinderAttachmentRecord]
        do {
            pending = try await journal.cinderAttachments().filter { $0.state != .attached }
        } catch {
            logger.error("cannot read unfinished local attaches from the journal; retried next round", metadata: ["error": "\(error)"])
            return
        }
        guard let client = cinder else {
            if !pending.isEmpty {
                logger.warning("unfinished local attaches in the journal but Cinder is not configured", metadata: ["hint": "configure [cinder] in tether.toml, or finish each with the caller's credentials: tether local-detach VOLUME --os-cloud NAME"])
            }
            return
        }
        for stale in pending {
            do {
                try await locks.withLock(Self.lockKey(stale.volumeID)) {
                    // Re-read under the lock: a request may have finished it meanwhile.
                    guard let record = try await self.journal.cinderAttachment(volume: stale.volumeID),
                        record.state != CinderAttachmentRecord.State.attached
                    else { return }
                    try await self.settle(record, client: client)
                }
                logger.notice("finished an interrupted local attach or detach", metadata: ["volume": "\(stale.volumeID)", "was": "\(stale.state)"])
            } catch {
                logger.warning("cannot finish an interrupted local attach or detach yet", metadata: ["volume": "\(stale.volumeID)", "error": "\(error)"])
            }
        }
    }

    /// Retries `recover` every `interval` until the task is cancelled.
    func retryPending(every interval: Duration) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            await recover()
        }
    }

    /// Takes an unfinished record to its end: a detach is completed, anything else rolled back.
    func settle(_ record: CinderAttachmentRecord, client: CinderClient) async throws {
        var record = record
        do {
            if record.state == CinderAttachmentRecord.State.detaching {
                try await finishDetach(&record, client: client, force: true)
            } else {
                try await rollBack(&record, client: client)
            }
        } catch {
            record.pendingError = "\(error)"
            await savePending(record)
            throw error
        }
    }

    /// Undoes an attach at whatever step it stopped: the local attachment, then Cinder's side.
    func rollBack(_ record: inout CinderAttachmentRecord, client: CinderClient, watch: StopWatch = StopWatch()) async throws {
        // rolling_back with no id: a roll-back of a creating record, cut off; Cinder's answer may still have been lost.
        let createdInCinder = record.cinderAttachmentID != nil || ![CinderAttachmentRecord.State.creating, CinderAttachmentRecord.State.rollingBack].contains(record.state)
        record.state = CinderAttachmentRecord.State.rollingBack
        try await journal.saveCinderAttachment(record)
        try failpoints.hit(.localAttachRollingBack)
        if let local = record.localAttachmentID {
            _ = try await attachments.detach(local, force: true)
            record.localAttachmentID = nil
            try await journal.saveCinderAttachment(record)
        }
        if record.flow == CinderAttachmentRecord.Flow.attachments, record.cinderAttachmentID == nil, !createdInCinder {
            // Cut off while Cinder created it: its id never arrived. Find it by what it is, and
            // only among this node's: another host's unfinished attachment of a multiattach
            // volume looks the same but for its host.
            // A record whose connector no longer parses was still made by this node: its host is ours.
            let connector = (try? ConnectorProperties(json: JSONDecoder().decode(JSONValue.self, from: Data(record.connector.utf8)))) ?? node
            guard let host = connector.host ?? node.host else {
                throw TetherError(
                    .notConfigured, "cannot tell this node's Cinder attachment of volume \(record.volumeID) from another host's: the connector names no host",
                    hint: "set [node] host in tether.toml; then tether local-detach \(record.volumeID)")
            }
            for id in try await watch.time({ try await client.unfinishedHostAttachments(volumeID: record.volumeID, host: host) }) {
                try await watch.time { try await client.deleteAttachment(id) }
            }
        } else {
            try await releaseInCinder(record, client: client, watch: watch)
        }
        try await journal.deleteCinderAttachment(volume: record.volumeID)
        logger.info("local attach rolled back", metadata: ["volume": "\(record.volumeID)"])
    }

    /// Tells Cinder this node is done with the volume; what Cinder already forgot is fine.
    func releaseInCinder(_ record: CinderAttachmentRecord, client: CinderClient, watch: StopWatch) async throws {
        if record.flow == CinderAttachmentRecord.Flow.attachments {
            if let id = record.cinderAttachmentID {
                try await watch.time { try await client.deleteAttachment(id) }
            }
            return
        }
        // As above: an unreadable connector was still this node's, and this node's is at hand.
        let connector = (try? ConnectorProperties(json: JSONDecoder().decode(JSONValue.self, from: Data(record.connector.utf8)))) ?? node
        do {
            try await watch.time { try await client.terminateConnection(record.volumeID, connector: connector) }
        } catch let error as TetherError where error.code != .cinderUnreachable {
            // A volume never initialized for this connector: nothing to terminate.
            logger.info("terminate_connection refused; going on", metadata: ["volume": "\(record.volumeID)", "error": "\(error)"])
        }
        let volume: CinderVolume
        do {
            volume = try await watch.time { try await client.volume(record.volumeID) }
        } catch let error as TetherError where error.code == .notFound {
            return
        }
        switch volume.status {
        case "attaching", "reserved":
            try await watch.time { try await client.unreserve(record.volumeID) }
        case "in-use", "detaching":
            let host = connector.host ?? "tether"
            guard let mine = volume.attachments.first(where: { $0.host == host }) else { return }
            if volume.status == "in-use" {
                try await watch.time { try await client.beginDetaching(record.volumeID) }
            }
            try await watch.time { try await client.detach(record.volumeID, attachmentID: mine.id) }
        default:
            return
        }
    }

    /// Journals a record's pending error on a failure path. The operation's own error is what the
    /// caller reports; a journal that cannot be written is logged, so its error is not lost either.
    func savePending(_ record: CinderAttachmentRecord) async {
        do {
            try await journal.saveCinderAttachment(record)
        } catch {
            logger.error(
                "cannot journal why a local attach is unfinished", metadata: ["volume": "\(record.volumeID)", "pending": "\(record.pendingError ?? "-")", "error": "\(error)"])
        }
    }
}
