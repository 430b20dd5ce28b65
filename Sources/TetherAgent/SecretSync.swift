import Foundation
import Logging
import TetherCeph
import TetherCore

/// Keeps libvirt's ceph secrets equal to the registry: one per (cluster, user) with a key, and none
/// left for clusters or users that are gone. Tether's own secrets have the fsid-based usage name
/// ("tether ceph <fsid> client.<user>"; earlier versions gave "tether <cluster> client.<user>", moved
/// to the new name here); another tool's secret at the UUID Tether would use, or holding the
/// same key, is adopted (`CephSecretDecision`). Only secrets whose usage name Tether gave are ever
/// removed.
actor SecretSync {
    private let secrets: (any LibvirtSecretStore)?
    private let journal: Journal?
    private let logger: Logger
    /// Adoptions by (fsid, user), as the journal has them; read at the first sync.
    private(set) var adopted: [AdoptionKey: AdoptedSecretRecord] = [:]
    private var loaded = false

    struct AdoptionKey: Hashable {
        var fsid: String
        var user: String
    }

    /// - Parameter store: libvirt's secrets; nil when `[libvirt] uri` is empty (Tether defines none).
    init(store: (any LibvirtSecretStore)?, journal: Journal?, logger: Logger) {
        self.secrets = store
        self.journal = journal
        self.logger = logger
    }

    var isEnabled: Bool { secrets != nil }

    struct Outcome {
        var defined: [String] = []
        var removed: [String] = []
        var adopted: [String] = []
        var problems: [String] = []
    }

    /// How a disk names the secret of `user`: by the fsid-based usage when Tether defines it, by
    /// UUID when it adopted another tool's secret or manages none (`[libvirt] uri` empty: whoever
    /// defines secrets does so by the cluster file's UUID, as Nova does).
    func reference(cluster: CephCluster, user: CephUser) -> LibvirtSecretReference {
        guard isEnabled else { return .uuid(cluster.secretUUID(for: user), .ceph) }
        if let record = adopted[AdoptionKey(fsid: cluster.fsid.uuidString.lowercased(), user: user.name)], let uuid = UUID(uuidString: record.uuid) {
            return .uuid(uuid, .ceph)
        }
        return .usage(LibvirtSecretUsage(.ceph, cluster.secretUsage(for: user)))
    }

    func adoption(cluster: CephCluster, user: CephUser) -> AdoptedSecretRecord? {
        adopted[AdoptionKey(fsid: cluster.fsid.uuidString.lowercased(), user: user.name)]
    }

    func sync(_ registry: CephRegistry) async -> Outcome {
        var outcome = Outcome()
        guard let secrets else { return outcome }
        do {
            try await loadAdoptions()
            var keep: Set<UUID> = []
            var users: Set<AdoptionKey> = []
            for cluster in registry.clusters {
                for user in cluster.users {
                    let id = AdoptionKey(fsid: cluster.fsid.uuidString.lowercased(), user: user.name)
                    users.insert(id)
                    guard let key = registry.key(for: user, in: cluster) else { continue }
                    // libvirt keeps a ceph secret's raw bytes; the cephx key is their base64.
                    guard let value = key.reveal({ Data(base64Encoded: $0) }) else {
                        outcome.problems.append("the key of \(user.entity) of cluster \(cluster.name) is not base64")
                        continue
                    }
                    do {
                        keep.formUnion(try await apply(cluster: cluster, user: user, id: id, value: Array(value), secrets: secrets, outcome: &outcome))
                    } catch let error as TetherError {
                        outcome.problems.append(error.message + (error.hint.map { " (hint: \($0))" } ?? ""))
                        // What Tether cannot settle now stays as it is: nothing of this user's is removed.
                        keep.formUnion(Set(try await secrets.secrets(of: .ceph).map(\.uuid)))
                    }
                }
            }
            for secret in try await secrets.secrets(of: .ceph) where CephSecretDecision.isTethers(secret.usage.name) && !keep.contains(secret.uuid) {
                try await secrets.remove(uuid: secret.uuid)
                outcome.removed.append(secret.uuid.uuidString.lowercased())
            }
            for (id, record) in adopted where !users.contains(id) {
                // The cluster or user is gone: forget the adoption; the secret stays the other tool's.
                try await journal?.deleteAdoptedSecret(fsid: id.fsid, user: id.user)
                adopted[id] = nil
                logger.info("no longer using an adopted libvirt secret", metadata: ["uuid": "\(record.uuid)", "user": "\(id.user)", "fsid": "\(id.fsid)"])
            }
        } catch let error as TetherError {
            outcome.problems.append(error.message)
        } catch {
            outcome.problems.append("\(error)")
        }
        for problem in outcome.problems {
            logger.warning("libvirt secrets not in sync", metadata: ["problem": "\(problem)"])
        }
        return outcome
    }

    /// Settles one user's secret; answers the UUIDs to keep.
    private func apply(
        cluster: CephCluster, user: CephUser, id: AdoptionKey, value: [UInt8], secrets: any LibvirtSecretStore, outcome: inout Outcome
    ) async throws -> Set<UUID> {
        let existing = try await secrets.secrets(of: .ceph)
        var values: [UUID: [UInt8]] = [:]
        for secret in existing where !CephSecretDecision.isTethers(secret.usage.name) && !secret.isPrivate {
            values[secret.uuid] = try await secrets.value(uuid: secret.uuid)
        }
        switch CephSecretDecision.decide(cluster: cluster, user: user, key: value, existing: existing, values: values, adopted: adopted[id]) {
        case .define(let uuid, let removing):
            for stale in removing {
                try await secrets.remove(uuid: stale)
                if stale != uuid { outcome.removed.append(stale.uuidString.lowercased()) }
            }
            try await secrets.ensure(
                uuid: uuid, usage: LibvirtSecretUsage(.ceph, cluster.secretUsage(for: user)), description: cluster.secretDescription(for: user), value: value)
            if adopted[id] != nil {
                try await journal?.deleteAdoptedSecret(fsid: id.fsid, user: id.user)
                adopted[id] = nil
            }
            outcome.defined.append(uuid.uuidString.lowercased())
            return [uuid]
        case .adopt(let secret, let reason, let removing):
            for stale in removing {
                try await secrets.remove(uuid: stale)
                outcome.removed.append(stale.uuidString.lowercased())
            }
            let uuid = secret.uuid.uuidString.lowercased()
            if adopted[id]?.uuid != uuid {
                let record = AdoptedSecretRecord(fsid: id.fsid, user: user.name, uuid: uuid, usage: secret.usage.name, reason: reason, adoptedAt: Journal.now())
                try await journal?.saveAdoptedSecret(record)
                adopted[id] = record
                logger.notice(
                    "adopted a libvirt secret another tool defined",
                    metadata: ["uuid": "\(uuid)", "usage": "\(secret.usage.name)", "cluster": "\(cluster.name)", "user": "\(user.entity)", "reason": "\(reason.rawValue)"])
            }
            outcome.adopted.append(uuid)
            return [secret.uuid]
        case .refuse(let error):
            throw error
        }
    }

    private func loadAdoptions() async throws {
        guard !loaded, let journal else { return }
        for record in try await journal.adoptedSecrets() {
            adopted[AdoptionKey(fsid: record.fsid, user: record.user)] = record
        }
        loaded = true
    }
}
