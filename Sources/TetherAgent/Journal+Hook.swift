import Foundation
import GRDB
import TetherCore

/// What the libvirt qemu hook keeps: which attachments it made for which domain, and the
/// connection_info of kernel volumes detached since.
extension Journal {
    func knownVolume(_ volumeID: String) async throws -> KnownVolumeRecord? {
        try await writer.read { db in try KnownVolumeRecord.fetchOne(db, key: volumeID) }
    }

    func hookClaims(domain: String) async throws -> [HookClaimRecord] {
        try await writer.read { db in try HookClaimRecord.filter(HookClaimRecord.Columns.domain == domain).fetchAll(db) }
    }

    func hookClaims(volume: String) async throws -> [HookClaimRecord] {
        try await writer.read { db in try HookClaimRecord.filter(HookClaimRecord.Columns.volumeID == volume).fetchAll(db) }
    }

    /// Records that the hook made `attachmentID` for `domain`; nothing when the attachment is gone.
    func claim(attachmentID: String, volumeID: String, domain: String) async throws {
        try await writer.write { db in
            guard try AttachmentRecord.fetchOne(db, key: attachmentID) != nil else { return }
            try HookClaimRecord(attachmentID: attachmentID, volumeID: volumeID, domain: domain, createdAt: Self.now()).upsert(db)
        }
    }
}
