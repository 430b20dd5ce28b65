import Foundation
import Logging
import TetherCeph
import TetherCore

/// RBD in network mode: no host device. Tether finds the volume's cluster in the registry, opens
/// the image as that cluster's user (explicit monitors and key, never a shared ceph.conf), checks
/// it, and describes it for QEMU's own librbd with that cluster's conf and key, so disks from
/// several clusters live side by side in one domain.
public struct NetworkRBDConnector: Connector {
    public let driverVolumeTypes: Set<String> = ["rbd"]
    public let mode: AttachMode = .network

    let host: any TetherCore.Host
    let registry: @Sendable () async -> CephRegistry
    let connections: RADOSConnections
    let cephDirectory: String
    let secretDirectory: String
    /// How the disk XML names the libvirt secret of a (cluster, user): the agent's secret sync
    /// knows whether it is Tether's own (by usage) or adopted (by UUID).
    let secretReference: @Sendable (CephCluster, CephUser) async -> LibvirtSecretReference
    let logger: Logger

    public init(
        host: any TetherCore.Host, registry: @escaping @Sendable () async -> CephRegistry, connections: RADOSConnections,
        cephDirectory: String, secretDirectory: String,
        secretReference: @escaping @Sendable (CephCluster, CephUser) async -> LibvirtSecretReference = { .uuid($0.secretUUID(for: $1), .ceph) },
        logger: Logger = Logger(label: "tether.rbd")
    ) {
        self.logger = logger
        self.secretReference = secretReference
        self.host = host
        self.registry = registry
        self.connections = connections
        self.cephDirectory = cephDirectory
        self.secretDirectory = secretDirectory
    }

    public func attach(_ request: AttachRequest) async throws -> AttachedVolume {
        let data = try RBDConnectionData(request.connectionInfo)
        let registry = await registry()
        let resolution = try CephResolver.resolve(data, in: registry)
        let (cluster, user) = (resolution.cluster, resolution.user)
        let key = try registry.requireKey(for: user, in: cluster)
        let connection = try await connections.connection(cluster: cluster, user: user, key: key)
        let readOnly = request.accessMode == .readOnly || data.accessMode == .readOnly
        let multiattach = request.connectionInfo.data["multiattach"]?.boolValue ?? false
        // Read-only and multiattach attaches share the image by design: nothing to claim.
        let image = readOnly || multiattach
            ? try await connection.inspect(pool: data.pool, image: data.image)
            : try await RBDClaim(force: request.force, breakLock: request.breakLock, requestedBy: request.requestedBy)
                .check(connection, pool: data.pool, image: data.image, logger: logger, metadata: ["volume": "\(request.volumeID)", "attachment": "\(request.attachmentID)"])
                .image

        try await ensureConf(cluster, registry: registry)
        let keyFile = secretFiles(forAttachment: request.attachmentID)[0]
        try await host.writeFile(keyFile, contents: key.reveal { Array($0.utf8) }, mode: 0o600)
        let description = RBDDiskDescription(
            cluster: cluster, user: user, pool: data.pool, image: data.image,
            confPath: CephFileSet.confPath(cluster: cluster.name, cephDirectory: cephDirectory), secret: await secretReference(cluster, user),
            keyFile: keyFile, attachmentID: request.attachmentID, volumeID: request.volumeID, readOnly: readOnly, discard: data.discard)
        return AttachedVolume(
            protocolName: "rbd", mode: .network,
            paths: [AttachedVolume.Path(portal: cluster.monHost, target: "\(cluster.name):\(data.pool)/\(data.image)", lun: nil, state: "ok")],
            wwid: nil, sizeBytes: image.sizeBytes, blockSize: nil, devicePath: nil,
            diskXML: description.libvirtXML, qemuBlockdev: description.qemuBlockdev, qemuObjects: description.qemuObjects, secretFiles: [keyFile],
            handle: .networkRBD(
                NetworkRBDHandle(
                    cluster: cluster.name, fsid: cluster.fsid.uuidString.lowercased(), user: user.name, resolvedBy: "\(resolution.match)",
                    features: image.featureNames, watchers: image.watchers.map(\.address), lockOwners: image.lockOwners)))
    }

    public func detach(_ volume: AttachedVolume, attachmentID: String, force: Bool) async throws {
        try await host.removeSecretFiles(of: volume)
    }

    public func secretFiles(forAttachment attachmentID: String) -> [String] {
        ["\(secretDirectory)/\(attachmentID).cephx"]
    }

    /// Writes the cluster's conf (and its users' keyrings) where they are missing or stale, unless a
    /// conf Tether did not write is in the way: that one is never replaced.
    func ensureConf(_ cluster: CephCluster, registry: CephRegistry) async throws {
        let files = CephFileSet(cluster, registry: registry, cephDirectory: cephDirectory)
        // Read once: the same text answers "is it Tether's" and "is it current".
        // try?: an unreadable conf is written anew, as a missing one is.
        let existing = try? await host.read(files.conf.path)
        if let existing, !existing.hasPrefix(CephFileSet.header) {
            throw TetherError(
                .conflict, "\(files.conf.path) exists and was not written by Tether",
                hint: "move it away, or give the cluster another name; Tether writes <cluster>.conf for every registered cluster")
        }
        if existing.map({ !files.conf.hasContents(Secret($0)) }) ?? true {
            try await files.conf.write(to: host)
        }
        for file in files.keyrings {
            try await file.writeIfChanged(to: host)
        }
    }
}
