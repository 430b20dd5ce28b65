import Foundation
import Logging
import TetherCeph
import TetherCore
import TetherLibvirt

/// Keeps libvirt's ceph secrets equal to the registry: one per (cluster, user) with a key, at the
/// cluster's fixed UUID, and none left for clusters or users that are gone. Only secrets whose
/// usage name Tether gave ("tether <cluster> client.<user>") are ever removed.
actor SecretSync {
    private let uri: String
    private var secrets: LibvirtSecrets?
    private let logger: Logger

    init(uri: String, logger: Logger) {
        self.uri = uri
        self.logger = logger
    }

    var isEnabled: Bool { !uri.isEmpty }

    struct Outcome {
        var defined: [String] = []
        var removed: [String] = []
        var problems: [String] = []
    }

    func sync(_ registry: CephRegistry) async -> Outcome {
        var outcome = Outcome()
        guard isEnabled else { return outcome }
        do {
            let secrets = try connection()
            var wanted: Set<String> = []
            for cluster in registry.clusters {
                for user in cluster.users {
                    guard let key = registry.key(for: user, in: cluster) else { continue }
                    let uuid = cluster.secretUUID(for: user)
                    wanted.insert(uuid.uuidString.lowercased())
                    // libvirt keeps a ceph secret's raw bytes; the cephx key is their base64.
                    guard let value = key.reveal({ Data(base64Encoded: $0) }) else {
                        outcome.problems.append("the key of \(user.entity) of cluster \(cluster.name) is not base64")
                        continue
                    }
                    do {
                        try await secrets.ensure(
                            uuid: uuid, usage: .ceph(cluster.secretUsage(for: user)),
                            description: "Tether: \(user.entity) of Ceph cluster \(cluster.name) (\(cluster.fsid.uuidString.lowercased()))", value: Array(value))
                        outcome.defined.append(uuid.uuidString.lowercased())
                    } catch let error as TetherError {
                        outcome.problems.append(error.message)
                    }
                }
            }
            for (uuid, usage) in try await secrets.list(type: "ceph") where usage.hasPrefix("tether ") && !wanted.contains(uuid.lowercased()) {
                try await secrets.remove(uuid: UUID(uuidString: uuid)!)
                outcome.removed.append(uuid.lowercased())
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

    /// Opened on first use, so an agent with no Ceph clusters never needs libvirt.
    private func connection() throws -> LibvirtSecrets {
        if let secrets { return secrets }
        let opened = try LibvirtSecrets(uri: uri)
        secrets = opened
        return opened
    }
}
