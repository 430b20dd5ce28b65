import GRDB
import TetherCore

/// A libvirt ceph secret another tool defined (Nova's `rbd_secret_uuid`, a deployment's
/// `virsh secret-define`) that Tether uses for one (cluster fsid, user) instead of defining its
/// own. Tether never undefines it; the record goes when the cluster or user does, or when the
/// secret is gone from libvirt.
struct AdoptedSecretRecord: Codable, FetchableRecord, PersistableRecord, Sendable, Hashable {
    static let databaseTableName = "adoptedSecret"

    /// Why the secret was taken for this (cluster, user).
    enum Reason: String, Codable, Sendable {
        /// It has the UUID Tether would use (the user's `secret_uuid`), with another usage name.
        case sameUUID = "same_uuid"
        /// It holds the user's key under another UUID.
        case sameKey = "same_key"
    }

    /// The cluster's fsid, lower case: the record follows the cluster, not the name it has here.
    var fsid: String
    var user: String
    /// The adopted secret's UUID, lower case.
    var uuid: String
    /// Its usage name, as the other tool gave it.
    var usage: String
    var reason: Reason
    var adoptedAt: String

    enum Columns {
        static let fsid = Column(CodingKeys.fsid)
        static let user = Column(CodingKeys.user)
    }
}

extension Journal {
    func adoptedSecrets() async throws -> [AdoptedSecretRecord] {
        try await writer.read { db in try AdoptedSecretRecord.order(AdoptedSecretRecord.Columns.fsid, AdoptedSecretRecord.Columns.user).fetchAll(db) }
    }

    func saveAdoptedSecret(_ record: AdoptedSecretRecord) async throws {
        try await writer.write { db in try record.upsert(db) }
    }

    func deleteAdoptedSecret(fsid: String, user: String) async throws {
        _ = try await writer.write { db in
            try AdoptedSecretRecord.filter(AdoptedSecretRecord.Columns.fsid == fsid && AdoptedSecretRecord.Columns.user == user).deleteAll(db)
        }
    }
}
