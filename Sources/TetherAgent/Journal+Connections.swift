import GRDB
import TetherCore

extension Journal {
    func connections() async throws -> [ConnectionRecord] {
        try await writer.read { db in try ConnectionRecord.order(Column("createdAt")).fetchAll(db) }
    }

    func connection(volume: String) async throws -> ConnectionRecord? {
        try await writer.read { db in try ConnectionRecord.fetchOne(db, key: volume) }
    }

    /// Records a step before (or as soon as) it happens; `updatedAt` is stamped here.
    func saveConnection(_ record: ConnectionRecord) async throws {
        var stamped = record
        stamped.updatedAt = Self.now()
        let row = stamped
        try await writer.write { db in try row.upsert(db) }
    }

    func deleteConnection(volume: String) async throws {
        _ = try await writer.write { db in try ConnectionRecord.deleteOne(db, key: volume) }
    }
}
