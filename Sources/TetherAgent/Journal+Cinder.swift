import GRDB
import TetherCore

extension Journal {
    func cinderAttachments() async throws -> [CinderAttachmentRecord] {
        try await writer.read { db in try CinderAttachmentRecord.order(Column("createdAt")).fetchAll(db) }
    }

    func cinderAttachment(volume: String) async throws -> CinderAttachmentRecord? {
        try await writer.read { db in try CinderAttachmentRecord.fetchOne(db, key: volume) }
    }

    /// Records a step before (or as soon as) it happens; `updatedAt` is stamped here.
    func saveCinderAttachment(_ record: CinderAttachmentRecord) async throws {
        var stamped = record
        stamped.updatedAt = Self.now()
        let row = stamped
        try await writer.write { db in try row.upsert(db) }
    }

    func deleteCinderAttachment(volume: String) async throws {
        _ = try await writer.write { db in try CinderAttachmentRecord.deleteOne(db, key: volume) }
    }
}
