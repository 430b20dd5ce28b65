import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle
import Synchronization
import TetherAPI
import TetherCeph
import TetherCinder
import TetherCore
import TetherISCSI
import TetherLibvirt
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
        let stateLock = try await Self.lockStateDirectory(configuration.stateDirectory, host: host)
        defer { stateLock.release() }
        let journal = try await Journal.open(directory: configuration.stateDirectory, host: host)
        // TLS certificates that cannot be used stop the agent before it recovers or serves anything.
        var tlsContexts: TLSContextStore?
        if let tcp = configuration.api.tcp {
            tlsContexts = try await TLSContextStore(settings: tcp, host: host, logger: logger)
        }
        let locks = VolumeLocks()
        let stats = OperationStats()
        let node = await NodeIdentity.connector(configuration, host: host)
        if node.initiator == nil {
            logger.warning("no iSCSI initiator name", metadata: ["hint": "set [iscsi] initiator in tether.toml or write \(configuration.initiatorFile)"])
        }
        let secrets = "\(configuration.stateDirectory)/secrets"
        let radosConnections = RADOSConnections(timeouts: RADOSTimeouts(connect: configuration.cephConnectTimeout))
        // One libvirt connection, opened on first use, for the ceph secrets and network iSCSI's CHAP secrets.
        let libvirtSecrets: (any LibvirtSecretStore)? = configuration.libvirtURI.isEmpty ? nil : LazyLibvirtSecrets(uri: configuration.libvirtURI)
        let clusters = try await ClusterService(
            directory: configuration.registryDirectory, cephDirectory: configuration.cephDirectory, secretStore: libvirtSecrets,
            host: host, journal: journal, logger: logger, connections: radosConnections)
        await clusters.syncAtStart()
        let registry: @Sendable () async -> CephRegistry = { await clusters.current }
        let connectors: [any Connector] = [
            NetworkISCSIConnector(host: host, timeouts: configuration.iscsiTimeouts, secretDirectory: secrets, libvirtSecrets: libvirtSecrets),
            NetworkRBDConnector(
                host: host, registry: registry, connections: radosConnections, cephDirectory: configuration.cephDirectory,
                secretDirectory: secrets, secretReference: { await clusters.secretReference(cluster: $0, user: $1) }, logger: logger),
            // Kernel mode: open-iscsi (+ dm-multipath) and krbd; a host without their kernel
            // modules answers each attach with what is missing.
            KernelISCSIConnector(host: host, configuration: KernelISCSIConfiguration(root: configuration.systemRoot), logger: logger),
            KernelRBDConnector(host: host, registry: registry, connections: radosConnections, logger: logger),
        ]
        let exporter = TgtExporter(
            control: TgtSocketControl(socketBase: configuration.target.tgtSocket, controlPort: configuration.target.tgtControlPort),
            portals: configuration.target.portals, logger: logger)
        let failpoints = Failpoints(armed: configuration.failpoints, logger: logger) { _ in LinuxHost.killSelf() }
        if !failpoints.armed.isEmpty {
            logger.warning("failpoints armed: this agent crashes or fails on purpose", metadata: ["failpoints": "\(Failpoints.describe(failpoints.armed))", "variable": "\(Failpoints.variable)"])
        }
        let attachments = AttachmentService(
            journal: journal, locks: locks, connectors: connectors, node: node, stats: stats, logger: logger, clock: host.clock, failpoints: failpoints,
            heal: configuration.reconcile.heal)
        let reconciler = Reconciler(attachments: attachments, interval: configuration.reconcile.interval, heal: configuration.reconcile.heal, logger: logger)
        let exports = ExportService(
            journal: journal, locks: locks, exporter: exporter, host: host, iqnPrefix: configuration.target.iqnPrefix,
            rbd: RBDExporter(registry: registry, connections: radosConnections), backingDirectories: configuration.target.backingDirectories,
            stats: stats, logger: logger, failpoints: failpoints)

        let cinder = configuration.cinder.map { settings in
            let client = CinderClient(settings.client)
            return client
        }
        if let pinned = configuration.cinder?.microversion, let cinder {
            await cinder.useMicroversion(pinned)
        }
        let localAttachments = LocalAttachService(
            journal: journal, locks: locks, attachments: attachments, cinder: cinder, refusal: configuration.cinderRefusal, node: node, stats: stats,
            logger: logger, modeRule: configuration.localAttachMode, kernelSupport: KernelSupport(host: host, root: configuration.systemRoot),
            failpoints: failpoints,
            callerDefaults: .init(timeout: configuration.cinder?.client.timeout ?? .seconds(30), microversion: configuration.cinder?.microversion))
        if let connect = configuration.connect {
            // A client key others may read stops the agent, as the listener's own does.
            try await TLSCredentials.checkKeyMode(connect.keyFile, host: host, setting: "[connect] key")
        }
        let connections = ConnectService(
            journal: journal, locks: locks, attachments: attachments, settings: configuration.connect, node: node, logger: logger, failpoints: failpoints)
        if let refusal = configuration.cinderRefusal {
            logger.error("Cinder is off", metadata: ["problem": "\(refusal)", "hint": "\(refusal.problem.hint)"])
        }

        try await attachments.recover()
        if !configuration.target.portals.isEmpty {
            await exports.restore()
        }

        let access = try APIAccess.resolve(configured: configuration.api.group)
        // The journal check reads the host for now; the reconciler's report replaces it (JournalAudit).
        let doctor = Doctor(
            configuration: configuration, host: host, node: node, access: access, registry: registry, journal: journal,
            journalAudit: HostJournalAudit(journal: journal, host: host, root: configuration.systemRoot),
            monitorClock: RADOSMonitorClock(connections: radosConnections), libvirtProbe: Self.probeLibvirt)
        let router = Router(context: BasicRequestContext.self)
        Routes(
            attachments: attachments, exports: exports, clusters: clusters, localAttachments: localAttachments, connections: connections, reconciler: reconciler, journal: journal,
            node: node, stats: stats, doctor: doctor,
            hooks: HookService(attachments: attachments, journal: journal, clusters: clusters, cephDirectory: configuration.cephDirectory, logger: logger)
        ).register(on: router)
        let socket = configuration.socketPath
        try await Self.prepareSocket(socket, host: host)
        let staging = try await SocketStaging(socket: socket, host: host)
        let publishing = PublishOutcome()
        let logger = logger
        let systemd = SystemdNotifier(logger: logger)
        let application = Application(
            router: router, server: .http1(configuration: Self.http1(access: access, idleTimeout: configuration.api.idleTimeout, logger: logger)),
            configuration: .init(
                address: .unixDomainSocket(path: staging.bindPath), serverName: "tetherd",
                availableConnectionsDelegate: MaximumAvailableConnections(Self.maximumConnections, logger: logger)),
            onServerRunning: { _ in
                do {
                    try await staging.publish(group: access.group)
                    logger.info("serving", metadata: ["socket": "\(socket)", "group": "\(access.groupName)", "version": "\(TetherVersion.current)"])
                    systemd.ready(socket: socket)
                } catch {
                    // A socket nobody can find serves nobody: stop, and fail with why.
                    logger.critical("cannot publish the API socket", metadata: ["error": "\(error)"])
                    publishing.fail(error)
                    kill(getpid(), SIGTERM)
                }
            }, logger: logger)
        // Last in the list, so the first told of shutdown: STOPPING=1 goes out at once.
        var tlsListener: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let tlsContexts {
            tlsListener = await Self.tlsListener(tlsContexts, router: router, idleTimeout: configuration.api.idleTimeout, logger: logger)
        }
        let services: [ServiceGroupConfiguration.ServiceConfiguration] =
            [.init(service: application)] + tlsListener + [.init(service: systemd, successTerminationBehavior: .ignore)]
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        // Cinder may be down now: what it must still be told is finished in the background,
        // under each volume's lock, while the agent serves.
        let retryInterval = configuration.cinder?.retryInterval ?? .seconds(30)
        let retries = configuration.cinder != nil
        let finisher = Task {
            await localAttachments.recover()
            if retries { await localAttachments.retryPending(every: retryInterval) }
        }
        defer { finisher.cancel() }
        // The same for connects whose undo the storage node has not been told of yet.
        let connectFinisher = Task {
            await connections.recover()
            await connections.retryPending()
        }
        defer { connectFinisher.cancel() }
        // At start (after a reboot the journal's attachments come back here), then every interval.
        let reconciling = Task { await reconciler.run() }
        defer { reconciling.cancel() }
        // Stale looks of GET /v1/attachments are taken again here, not by the caller who found them.
        let refreshingLooks = attachments.startRefreshingLooks()
        defer { refreshingLooks.cancel() }
        try await group.run()
        await staging.discard()
        if let error = publishing.error { throw error }
        do {
            try await host.removeFile(socket)
        } catch {
            logger.warning("cannot remove the API socket", metadata: ["socket": "\(socket)", "error": "\(error)"])
        }
        logger.info("stopped")
    }

    /// Opens `uri` off the cooperative pool (virConnectOpen blocks); nil when libvirt answers.
    @Sendable static func probeLibvirt(_ uri: String) async -> String? {
        await blockingCall("tether-libvirt-probe") {
            do {
                _ = try LibvirtSecrets(uri: uri)
                return nil
            } catch {
                return (error as? TetherError)?.message ?? "\(error)"
            }
        }
    }

    /// Connections served at once; more wait in the socket's backlog until one ends. Keeps a flood
    /// of idle connections from taking the descriptors the journal, tgtd and libiscsi need.
    static let maximumConnections = 256

    /// HTTP/1.1 with the peer check first, Tether's answers to broken framing, an idle timeout
    /// (which also bounds a request head sent byte by byte) and header limits far above what
    /// Tether's clients send.
    static func http1(access: APIAccess, idleTimeout: Duration, logger: Logger) -> HTTP1Channel.Configuration {
        .init(
            additionalChannelHandlers: [PeerCredentialHandler(access: access, logger: logger), HTTPFramingHandler(logger: logger)],
            idleTimeout: .milliseconds(Int64(idleTimeout / .milliseconds(1))),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: 16 << 10, maxHeaderListSize: 32 << 10, maxHeaderFieldCount: 100))
    }

    /// Removes a socket file left by a previous run; refuses when an agent still answers on it.
    static func prepareSocket(_ path: String, host: any TetherCore.Host) async throws {
        try await host.createDirectory((path as NSString).deletingLastPathComponent, mode: 0o755)
        // Only a socket is a previous run's: anything else is left for the publishing rename,
        // which replaces a file and fails (with the reason) on a directory.
        guard try await host.fileKind(path) == .socket else { return }
        if await host.socketAnswers(path) {
            throw TetherError(.conflict, "another tetherd is serving \(path)", hint: "stop it first, or give this one another --socket")
        }
        try await host.removeFile(path)
    }
}

/// The API socket is bound in a private directory (0700, so only root can connect meanwhile),
/// given mode 0660 and its group, and only then renamed to its path: no moment exists in which
/// the socket is reachable with other rights. A rename keeps the bound socket.
struct SocketStaging: Sendable {
    let socket: String
    let directory: String
    let host: any TetherCore.Host
    var bindPath: String { directory + "/s" }

    init(socket: String, host: any TetherCore.Host) async throws {
        let url = URL(fileURLWithPath: socket)
        self.socket = socket
        self.host = host
        directory = url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".d"
        await discard()
        guard bindPath.utf8.count <= UnixSocket.maximumPathLength else {
            throw TetherError.invalidInput(
                "the socket path \(socket) is too long: tetherd binds it first as \(bindPath), over \(UnixSocket.maximumPathLength) bytes",
                hint: "use a socket path at most \(UnixSocket.maximumPathLength - 5) bytes long")
        }
        // Made now, or left over and not removable (not empty): it must be ours and private.
        try await host.createDirectory(directory, mode: 0o700)
        guard let status = try await host.fileStatus(directory), status.kind == .directory, status.owner == geteuid() else {
            throw TetherError(.internalError, "cannot stage the socket in \(directory): it is not a directory of this user")
        }
        try await host.setMode(directory, 0o700)
    }

    /// Gives the bound socket its group and mode 0660, then moves it to `socket`.
    func publish(group: UInt32) async throws {
        guard let status = try await host.fileStatus(bindPath) else {
            throw TetherError(.internalError, "the bound socket \(bindPath) is gone")
        }
        // chown needs root unless the owner is in the group; an agent run unprivileged (a
        // developer's, whose own group is the API group) has the right group already.
        if status.group != group {
            try await host.setGroup(bindPath, group)
        }
        try await host.setMode(bindPath, 0o660)
        try await host.rename(bindPath, to: socket)
        try await host.removeDirectory(directory)
    }

    /// Removes the staging directory and the socket left in it, if any (a run that crashed
    /// before publishing). What cannot be removed shows when the directory is made again.
    func discard() async {
        try? await host.removeFile(bindPath)  // gone already, or removeDirectory below reports nothing either: init checks what is left
        try? await host.removeDirectory(directory)  // as above
    }
}

/// Whether the socket could be published: set from `onServerRunning`, read after the server stops.
final class PublishOutcome: Sendable {
    private let failure = Mutex<(any Error)?>(nil)

    func fail(_ error: any Error) { failure.withLock { $0 = error } }
    var error: (any Error)? { failure.withLock { $0 } }
}

extension Agent {
    /// An exclusive lock on the state directory, so two agents never share one journal.
    static func lockStateDirectory(_ directory: String, host: any TetherCore.Host) async throws -> any HostFileLock {
        try await host.createDirectory(directory, mode: 0o700)
        do {
            return try await host.lockExclusively("\(directory)/tetherd.lock")
        } catch let error as TetherError where error.code == .conflict {
            throw TetherError(.conflict, "another tetherd uses the state directory \(directory)", hint: "stop it first, or give this one another --state-dir")
        }
    }
}
