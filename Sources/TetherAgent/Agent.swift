import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import TetherAPI
import TetherCeph
import TetherCinder
import TetherCore
import TetherISCSI
import TetherLinux
import TetherRBD
import TetherTarget

#if canImport(Glibc)
import Glibc
#endif

/// tetherd: opens the journal, finishes or rolls back what a previous run left half done,
/// restores exports, then serves the API on its unix socket until SIGTERM or SIGINT.
public struct Agent: Sendable {
    public let configuration: AgentConfiguration
    let host: any TetherCore.Host
    let logger: Logger

    public init(configuration: AgentConfiguration, host: any TetherCore.Host = LinuxHost(), logger: Logger) {
        self.configuration = configuration
        self.host = host
        self.logger = logger
    }

    public func run() async throws {
        let stateLock = try StateDirectoryLock(directory: configuration.stateDirectory)
        defer { stateLock.release() }
        let journal = try Journal(directory: configuration.stateDirectory)
        let locks = VolumeLocks()
        let stats = OperationStats()
        let node = NodeIdentity.connector(configuration)
        if node.initiator == nil {
            logger.warning("no iSCSI initiator name", metadata: ["hint": "set [iscsi] initiator in tether.toml or write \(configuration.initiatorFile)"])
        }
        let secrets = "\(configuration.stateDirectory)/secrets"
        let clusters = try await ClusterService(
            directory: configuration.registryDirectory, cephDirectory: configuration.cephDirectory, libvirtURI: configuration.libvirtURI,
            host: host, logger: logger)
        await clusters.syncAtStart()
        let registry: @Sendable () async -> CephRegistry = { await clusters.current }
        let radosConnections = RADOSConnections(timeouts: RADOSTimeouts(connect: configuration.cephConnectTimeout))
        let connectors: [any Connector] = [
            NetworkISCSIConnector(host: host, timeouts: configuration.iscsiTimeouts, secretDirectory: secrets),
            NetworkRBDConnector(
                host: host, registry: registry, connections: radosConnections, cephDirectory: configuration.cephDirectory,
                secretDirectory: secrets),
            // Kernel mode: open-iscsi (+ dm-multipath) and krbd; a host without their kernel
            // modules answers each attach with what is missing.
            KernelISCSIConnector(host: host, configuration: KernelISCSIConfiguration(root: configuration.systemRoot), logger: logger),
            KernelRBDConnector(host: host, registry: registry, connections: radosConnections),
        ]
        let exporter = TgtExporter(
            control: TgtSocketControl(socketBase: configuration.target.tgtSocket, controlPort: configuration.target.tgtControlPort),
            portals: configuration.target.portals, logger: logger)
        let attachments = AttachmentService(journal: journal, locks: locks, connectors: connectors, node: node, stats: stats, logger: logger)
        let exports = ExportService(
            journal: journal, locks: locks, exporter: exporter, host: host, iqnPrefix: configuration.target.iqnPrefix,
            rbd: RBDExporter(registry: registry, connections: radosConnections), backingDirectories: configuration.target.backingDirectories,
            stats: stats, logger: logger)

        let cinder = configuration.cinder.map { settings in
            let client = CinderClient(settings.client)
            return client
        }
        if let pinned = configuration.cinder?.microversion, let cinder {
            await cinder.useMicroversion(pinned)
        }
        let localAttachments = LocalAttachService(
            journal: journal, locks: locks, attachments: attachments, cinder: cinder, refusal: configuration.cinderRefusal, node: node, stats: stats,
            logger: logger)
        if let refusal = configuration.cinderRefusal {
            logger.error("Cinder is off", metadata: ["problem": "\(refusal)", "hint": "\(refusal.problem.hint)"])
        }

        try await attachments.recover()
        if !configuration.target.portals.isEmpty {
            await exports.restore()
        }

        let router = Router(context: BasicRequestContext.self)
        Routes(
            attachments: attachments, exports: exports, clusters: clusters, localAttachments: localAttachments, journal: journal, node: node, stats: stats
        ).register(on: router)
        let socket = configuration.socketPath
        try Self.prepareSocket(socket)
        let logger = logger
        let application = Application(
            router: router, configuration: .init(address: .unixDomainSocket(path: socket), serverName: "tetherd"),
            onServerRunning: { _ in
                // Root and the tether group may talk to the agent; nobody else.
                chmod(socket, 0o660)
                logger.info("serving", metadata: ["socket": "\(socket)", "version": "\(TetherVersion.current)"])
            }, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        // Cinder may be down now: what it must still be told is finished in the background,
        // under each volume's lock, while the agent serves.
        let retryInterval = configuration.cinder?.retryInterval ?? .seconds(30)
        let retries = configuration.cinder != nil
        let finisher = Task {
            await localAttachments.recover()
            if retries { await localAttachments.retryPending(every: retryInterval) }
        }
        defer { finisher.cancel() }
        try await group.run()
        unlink(socket)
        logger.info("stopped")
    }

    /// Removes a socket file left by a previous run; refuses when an agent still answers on it.
    static func prepareSocket(_ path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        guard FileManager.default.fileExists(atPath: path) else { return }
        if UnixSocket.answers(path) {
            throw TetherError(.conflict, "another tetherd is serving \(path)", hint: "stop it first, or give this one another --socket")
        }
        unlink(path)
    }
}

/// An exclusive lock on the state directory, so two agents never share one journal.
struct StateDirectoryLock {
    let fd: Int32

    init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        fd = open("\(directory)/tetherd.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw TetherError(.internalError, "cannot open \(directory)/tetherd.lock: \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw TetherError(.conflict, "another tetherd uses the state directory \(directory)", hint: "stop it first, or give this one another --state-dir")
        }
    }

    func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
