import TetherCeph
import TetherCore

/// A network RBD attachment holds two things on the host for QEMU's librbd: the cluster's conf
/// and the attachment's cephx key file. Both come from the cluster registry, so healing writes
/// them again (the key of the journaled user, never one from the journal, which holds none).
extension NetworkRBDConnector {
    static let secretSuffix = ".cephx"

    public func inspect(_ volume: AttachedVolume, attachmentID: String, heal: Bool) async -> Inspection {
        var look = await examine(volume)
        var repairs: [String] = []
        var notHealed: [String] = []
        if heal, look.health != .healthy, look.repairable {
            do {
                try await repair(look, of: volume, repairs: &repairs)
            } catch {
                notHealed.append("not healed: \(KernelRBDConnector.line(error))")
            }
            look = await examine(volume)
        }
        return Inspection(health: look.health, problems: look.problems + notHealed, repairs: repairs, volume: volume)
    }

    public func orphans(known: [AttachedVolume]) async throws -> [Orphan] {
        try await host.strayFiles(in: secretDirectory, suffix: Self.secretSuffix, known: known)
    }

    public func remove(_ orphan: Orphan) async throws {
        try await host.removeStrayFile(orphan, in: secretDirectory, suffix: Self.secretSuffix)
    }

    /// What one look at the host found.
    struct Look {
        var health = AttachmentHealth.healthy
        var problems: [String] = []
        /// The conf is missing (or not readable as Tether's).
        var conf = false
        /// Key files to write again: missing, or others may read them.
        var keyFiles: [String] = []

        var repairable: Bool { conf || !keyFiles.isEmpty }

        mutating func note(_ health: AttachmentHealth, _ problem: String) {
            self.health = max(self.health, health)
            problems.append(problem)
        }
    }

    func examine(_ volume: AttachedVolume) async -> Look {
        var look = Look()
        if let handle = volume.handle.networkRBD {
            let path = CephFileSet.confPath(cluster: handle.cluster, cephDirectory: cephDirectory)
            if !(await host.fileExists(path)) {
                look.conf = true
                look.note(.missing, "the conf of cluster \(handle.cluster), \(path), is gone: QEMU cannot find the monitors")
            } else {
                do {
                    if !(try await host.read(path)).hasPrefix(CephFileSet.header) {
                        look.note(.degraded, "\(path) was not written by Tether: QEMU reads whatever monitors and keyrings it names")
                    }
                } catch {
                    look.note(.unknown, "cannot read \(path): \(KernelRBDConnector.line(error))")
                }
            }
        }
        for path in volume.secretFiles {
            switch await host.secretFileState(path) {
            case .fine:
                continue
            case .missing:
                look.keyFiles.append(path)
                look.note(.missing, "the cephx key file \(path) is gone: QEMU cannot authenticate")
            case .exposed(let problem):
                look.keyFiles.append(path)
                look.note(.degraded, problem.description)
            case .unreadable(let reason):
                look.note(.unknown, reason)
            }
        }
        return look
    }

    /// Writes the conf and key files again from the registry's cluster of the journaled fsid.
    /// - Throws: `not_found` when that cluster or user is no longer registered; what
    ///   `requireKey` and `ensureConf` throw.
    func repair(_ look: Look, of volume: AttachedVolume, repairs: inout [String]) async throws {
        guard let handle = volume.handle.networkRBD else {
            throw TetherError(.notFound, "the journal names no cluster for this attachment", hint: "attach the volume again")
        }
        let registry = await registry()
        guard let cluster = registry.cluster(named: handle.cluster), cluster.fsid.uuidString.lowercased() == handle.fsid.lowercased() else {
            throw KernelRBDConnector.unregistered(name: handle.cluster, fsid: handle.fsid, registry: registry)
        }
        if look.conf {
            try await ensureConf(cluster, registry: registry)
            repairs.append("wrote \(CephFileSet.confPath(cluster: cluster.name, cephDirectory: cephDirectory)) again")
        }
        guard !look.keyFiles.isEmpty else { return }
        guard let user = cluster.user(named: handle.user) else {
            throw TetherError(
                .notFound, "cluster \(cluster.name) no longer has the user \(handle.user) this volume was attached as",
                hint: "add [user.\(handle.user)] back to clusters.d/\(cluster.name).toml, or detach and attach the volume again")
        }
        let key = try registry.requireKey(for: user, in: cluster)
        for path in look.keyFiles {
            try await host.writeFile(path, contents: key.reveal { Array($0.utf8) }, mode: 0o600)
            repairs.append("wrote the key of \(user.entity) of cluster \(cluster.name) to \(path) again (0600)")
        }
    }
}
