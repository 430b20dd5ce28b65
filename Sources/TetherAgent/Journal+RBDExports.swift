import GRDB
import TetherCore

/// An RBD image handed out by initialize_connection. Nothing changes in the cluster for it, but
/// the journal remembers it, so a repeat answers "already exported" only when it is one, and
/// `tether export list` shows it.
struct RBDExportRecord: Codable, FetchableRecord, PersistableRecord, Sendable, Hashable {
    static let databaseTableName = "rbdExport"

    var volumeID: String
    var cluster: String
    var pool: String
    var image: String
    var user: String
    var createdAt: String

    /// Whether `other` exports the same image as the same user (the creation time aside).
    func sameImage(as other: RBDExportRecord) -> Bool {
        (cluster, pool, image, user) == (other.cluster, other.pool, other.image, other.user)
    }
}

extension Journal {
    func rbdExport(volume: String) async throws -> RBDExportRecord? {
        try await writer.read { db in try RBDExportRecord.fetchOne(db, key: volume) }
    }

    func rbdExports() async throws -> [RBDExportRecord] {
        try await writer.read { db in try RBDExportRecord.order(Column("volumeID")).fetchAll(db) }
    }

    func saveRBDExport(_ record: RBDExportRecord) async throws {
        try await writer.write { db in try record.upsert(db) }
    }

    /// - Returns: whether there was one.
    func deleteRBDExport(volume: String) async throws -> Bool {
        try await writer.write { db in try RBDExportRecord.deleteOne(db, key: volume) }
    }
}
