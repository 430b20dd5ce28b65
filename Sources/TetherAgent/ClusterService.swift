import Foundation
import Logging
import TetherAPI
import TetherCeph
import TetherCore
import TetherRBD

/// The Ceph cluster registry as the agent keeps it: loaded from clusters.d at start, edited through
/// the API by writing the same files, and mirrored into the ceph directory (conf, keyrings).
public actor ClusterService {
    private var registry: CephRegistry
    let directory: String
    let cephDirectory: String
    let host: any TetherCore.Host
    let secrets: SecretSync
    let logger: Logger
    /// Shared with the RBD connectors: fencing reuses their connections.
    let connections: RADOSConnections

    /// - Parameter journal: where adoptions of other tools' libvirt secrets are kept (nil: in memory).
    /// - Parameter secretStore: libvirt's secrets; nil when `[libvirt] uri` is empty.
    init(
        directory: String, cephDirectory: String, secretStore: (any LibvirtSecretStore)?, host: any TetherCore.Host, journal: Journal? = nil,
        logger: Logger, connections: RADOSConnections = RADOSConnections()
    ) async throws {
        self.connections = connections
        self.directory = directory
        self.cephDirectory = cephDirectory
        self.host = host
        self.logger = logger
        self.secrets = SecretSync(store: secretStore, journal: journal, logger: logger)
        registry = try await CephRegistry.load(directory: directory, host: host)
        for problem in registry.problems {
            // A bad registry file costs only its own cluster; the others work.
            logger.error("skipped a Ceph cluster file", metadata: ["problem": "\(problem)"])
        }
        if !registry.clusters.isEmpty {
            logger.info("Ceph clusters", metadata: ["clusters": "\(registry.names.joined(separator: ","))"])
        }
    }

    /// The registry now; connectors read it per request.
    var current: CephRegistry { registry }

    var problems: [String] { registry.problems.map(\.description) }

    func list() async -> ClusterList {
        var bodies: [ClusterBody] = []
        for cluster in registry.clusters { bodies.append(await body(cluster)) }
        return ClusterList(clusters: bodies, problems: problems)
    }

    func show(_ name: String) async throws -> ClusterBody {
        guard let cluster = registry.cluster(named: name) else {
            throw TetherError(.notFound, "no Ceph cluster \(name) is registered (known: \(registry.names.joined(separator: ", ")))")
        }
        return await body(cluster)
    }

    /// How a disk names the libvirt secret of `user` (see `SecretSync.reference`).
    func secretReference(cluster: CephCluster, user: CephUser) async -> LibvirtSecretReference {
        await secrets.reference(cluster: cluster, user: user)
    }

    /// Registers (or replaces) a cluster: key files and the registry file, then the ceph directory.
    /// At start: files and secrets to match the registry; failures are logged, not fatal.
    func syncAtStart() async {
        guard !registry.clusters.isEmpty else { return }
        do {
            _ = try await sync()
        } catch {
            logger.error("cannot sync the ceph directory", metadata: ["error": "\(error)"])
        }
    }

    func add(_ request: CreateClusterRequest) async throws -> (ClusterBody, ClusterSyncBody) {
        let cluster = try makeCluster(request)
        var keys: [String: Secret] = [:]
        for user in request.users { keys[user.name] = user.key }
        // Check it fits beside the others (no second name, fsid or secret UUID) before writing.
        var candidate = registry
        if registry.cluster(named: cluster.name) != nil {
            candidate = try CephRegistry(clusters: registry.clusters.filter { $0.name != cluster.name })
        }
        try candidate.insert(cluster)
        try await CephRegistry.write(cluster, keys: keys, directory: directory, host: host)
        try await reload()
        // Registered again: its monitors or keys may differ, so the next attach connects anew.
        await connections.close(cluster: cluster.name)
        logger.info("registered Ceph cluster", metadata: ["cluster": "\(cluster.name)", "users": "\(request.users.map(\.name))"])
        let synced = try await sync()
        return (try await show(cluster.name), synced)
    }

    /// Removes a cluster's registry and key files and everything Tether made for it.
    func remove(_ name: String) async throws -> ClusterSyncBody {
        let removed = try await CephRegistry.remove(name, directory: directory, host: host)
        try await reload()
        // Its librados connection goes too; a call still running on it keeps it until it returns.
        await connections.close(cluster: name)
        let synced = try await sync()
        logger.info("removed Ceph cluster", metadata: ["cluster": "\(name)"])
        var result = synced
        result.deleted = removed + synced.deleted
        return result
    }

    /// Makes the ceph directory match the registry: writes what is missing or stale, deletes what
    /// Tether wrote for clusters no longer registered, and never touches files it did not write.
    func sync() async throws -> ClusterSyncBody {
        let plan = try await CephSyncPlan.make(registry: registry, cephDirectory: cephDirectory, host: host)
        try await plan.apply(to: host)
        for conflict in plan.conflicts {
            logger.warning("not replacing a file Tether did not write", metadata: ["file": "\(conflict)"])
        }
        let outcome = await secrets.sync(registry)
        return ClusterSyncBody(
            written: plan.write.map(\.path), deleted: plan.delete, conflicts: plan.conflicts, secretsDefined: outcome.defined,
            secretsRemoved: outcome.removed, secretsAdopted: outcome.adopted, problems: outcome.problems)
    }

    func reload() async throws {
        registry = try await CephRegistry.load(directory: directory, host: host)
    }

    private func makeCluster(_ request: CreateClusterRequest) throws -> CephCluster {
        guard let fsid = UUID(uuidString: request.fsid) else {
            throw TetherError.invalidInput("fsid \"\(request.fsid)\" is not a UUID", hint: "ceph fsid prints it")
        }
        guard !request.users.isEmpty else {
            throw TetherError.invalidInput("cluster \(request.name) has no user", hint: "give at least one user with its key")
        }
        let users = try request.users.map { user in
            let uuid = try user.secretUUID.map { text in
                guard let uuid = UUID(uuidString: text) else { throw TetherError.invalidInput("secret_uuid \"\(text)\" of user \(user.name) is not a UUID") }
                return uuid
            }
            return try CephUser(name: user.name, keyFile: CephRegistry.defaultKeyFile(cluster: request.name, user: user.name, directory: directory), secretUUID: uuid)
        }
        return try CephCluster(name: request.name, fsid: fsid, monitors: try CephMonitor.parse(request.monHost), users: users)
    }

    private func body(_ cluster: CephCluster) async -> ClusterBody {
        var users: [ClusterBody.User] = []
        for user in cluster.users {
            let adopted = await secrets.adoption(cluster: cluster, user: user)
            users.append(
                ClusterBody.User(
                    name: user.name, hasKey: registry.key(for: user, in: cluster) != nil,
                    secretUUID: adopted?.uuid ?? cluster.secretUUID(for: user).uuidString.lowercased(),
                    secretUsage: adopted?.usage ?? cluster.secretUsage(for: user), secretAdopted: adopted != nil,
                    keyring: CephFileSet.keyringPath(cluster: cluster.name, user: user.name, cephDirectory: cephDirectory)))
        }
        return ClusterBody(
            name: cluster.name, fsid: cluster.fsid.uuidString.lowercased(), monHost: cluster.monHost,
            conf: CephFileSet.confPath(cluster: cluster.name, cephDirectory: cephDirectory), users: users)
    }
}
