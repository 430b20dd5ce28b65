import Foundation
import Logging
import TetherCeph
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// RBD in kernel mode: the kernel's rbd driver maps the image as /dev/rbdN, and udev names it
/// `/dev/rbd/<cluster>/<pool>/<image>` and `/dev/disk/by-tether/<volume>` (udev/60-tether-rbd.rules).
///
/// The cluster is found in the registry as in network mode, and the image is mapped by writing the
/// add line to sysfs, as Ceph's krbd.cc does, without the `rbd` CLI: the key goes only into that one
/// write, never on a command line or into a file. Mappings are found by cluster fsid and image,
/// never by device number alone, so two clusters' `volumes/volume-1` stay apart and a detach after
/// a reboot unmaps the right one.
public struct KernelRBDConnector: Connector {
    public let driverVolumeTypes: Set<String> = ["rbd"]
    public let mode: AttachMode = .kernel

    let host: any TetherCore.Host
    let registry: @Sendable () async -> CephRegistry
    let connections: RADOSConnections?
    let timeouts: KRBDTimeouts
    let messenger: KRBDMessengerMode
    let mapOptions: [String]
    let mapDirectory: String?
    let requireStableNames: Bool
    let logger: Logger

    /// - Parameters:
    ///   - connections: when given, each new mapping is checked with librados first (the monitors
    ///     are the registered cluster's, the image exists, no other client holds its exclusive lock
    ///     for a read-write attach), as network mode does; nil maps straight away.
    ///   - messenger: the kernel's `ms_mode`; `.legacy` uses the monitors' v1 addresses.
    ///   - mapOptions: more rbd map options (`queue_depth=128`, `alloc_size=65536`, ...).
    ///   - mapDirectory: where the connector writes the udev map file of each image (see
    ///     `StableNames`), so udev links `/dev/disk/by-tether/<volume>`; nil writes none.
    ///   - requireStableNames: wait for udev's links and give QEMU `/dev/rbd/<cluster>/...`; when
    ///     false (no udev, or the rules are not installed) QEMU gets /dev/rbdN.
    public init(
        host: any TetherCore.Host, registry: @escaping @Sendable () async -> CephRegistry, connections: RADOSConnections? = nil,
        timeouts: KRBDTimeouts = KRBDTimeouts(), messenger: KRBDMessengerMode = .legacy, mapOptions: [String] = [],
        mapDirectory: String? = StableNames.defaultMapDirectory, requireStableNames: Bool = true, logger: Logger = Logger(label: "tether.rbd")
    ) {
        self.logger = logger
        self.host = host
        self.registry = registry
        self.connections = connections
        self.timeouts = timeouts
        self.messenger = messenger
        self.mapOptions = mapOptions
        self.mapDirectory = mapDirectory
        self.requireStableNames = requireStableNames
    }

    /// One attach's image and what it is for.
    struct Target: Sendable {
        var cluster: CephCluster
        var user: CephUser
        var match: CephResolution.Match
        var spec: KRBDImageSpec
        var volumeID: String
        var attachmentID: String
        var readOnly: Bool
        var discard: Bool

        var stableName: String {
            StableNames.rbdPath(cluster: cluster.name, pool: spec.pool, namespace: spec.namespace, image: spec.image, snapshot: spec.snapshot)
        }
    }

    public func attach(_ request: AttachRequest) async throws -> AttachedVolume {
        let data = try RBDConnectionData(request.connectionInfo)
        let registry = await registry()
        let resolution = try CephResolver.resolve(data, in: registry)
        let target = Target(
            cluster: resolution.cluster, user: resolution.user, match: resolution.match,
            spec: KRBDImageSpec(fsid: resolution.cluster.fsid.uuidString, pool: data.pool, image: data.image),
            volumeID: request.volumeID, attachmentID: request.attachmentID,
            readOnly: request.accessMode == .readOnly || data.accessMode == .readOnly, discard: data.discard)
        let mapRequest = try KRBDMapRequest(
            cluster: target.cluster, user: target.user, spec: target.spec, readOnly: target.readOnly, messenger: messenger,
            connectTimeout: timeouts.connect, extraOptions: mapOptions)
        let sysfs = KRBDSysfs(host: host)
        try await loadDriver(sysfs)

        let registered = Set(registry.clusters.map { $0.fsid.uuidString.lowercased() })
        if let existing = try await sysfs.devices(matching: target.spec).first {
            return try await adopt(existing, target, sysfs: sysfs, registered: registered)
        }
        let key = try registry.requireKey(for: target.user, in: target.cluster)
        if let connections {
            let multiattach = request.connectionInfo.data["multiattach"]?.boolValue ?? false
            let claim = multiattach ? nil : RBDClaim(force: request.force, breakLock: request.breakLock, requestedBy: request.requestedBy)
            try await precheck(target, key: key, connections: connections, claim: claim, metadata: ["volume": "\(request.volumeID)", "attachment": "\(request.attachmentID)"])
        }
        try await writeMapFile(target, adopting: false)
        let device = try await mapNew(target, mapRequest, key: key, sysfs: sysfs, registered: registered)
        return try await describe(device, target, sysfs: sysfs)
    }

    /// Maps `target`, which no device maps yet, and waits for its device and names (attach, and
    /// the reconciler mapping an image again). On failure it undoes what matches this image of
    /// this cluster, and the map file.
    func mapNew(_ target: Target, _ mapRequest: KRBDMapRequest, key: Secret, sysfs: KRBDSysfs, registered: Set<String>) async throws -> KRBDSysfs.Device {
        let strangersBefore = Set(try await sysfs.devices(sameImageAs: target.spec).map(\.id))
        do {
            try await map(mapRequest, key: key, cluster: target.cluster, sysfs: sysfs)
            return try await waitForMapping(target, sysfs: sysfs, ignoring: strangersBefore, registered: registered)
        } catch {
            // Only what matches this image of this cluster: nothing else was ours.
            for device in (try? await sysfs.devices(matching: target.spec)) ?? [] {
                try? await unmap(device, force: true, sysfs: sysfs)
            }
            try? await removeMapFile(target.spec, volumeID: target.volumeID)
            throw error
        }
    }

    public func detach(_ volume: AttachedVolume, attachmentID: String, force: Bool) async throws {
        guard let identity = try await identity(of: volume) else { return }
        let sysfs = KRBDSysfs(host: host)
        if await sysfs.isLoaded {
            for device in try await devices(of: identity, sysfs: sysfs) {
                try await unmap(device, force: force, sysfs: sysfs)
            }
        }
        try await removeMapFile(identity.spec, volumeID: identity.volumeID)
    }

    /// What an attach cut off may have mapped: the image and the connection_info to find its
    /// cluster again (without the inline keyring), so `detach` unmaps that cluster's mapping only.
    public func interruptedAttach(_ request: AttachRequest) -> AttachedVolume {
        guard let data = try? RBDConnectionData(request.connectionInfo) else {
            // Cut off before the request was even read: nothing can have been mapped.
            return .partial(protocolName: "rbd", mode: .kernel, secretFiles: [])
        }
        let handle = KernelRBDHandle(
            volumeID: request.volumeID, cluster: data.clusterName, fsid: nil, pool: data.pool, namespace: "", image: data.image,
            snapshot: KRBDImageSpec.headSnapshot, connection: request.connectionInfo.data.filter { $0.key != "keyring" })
        return .partial(protocolName: "rbd", mode: .kernel, secretFiles: [], handle: .kernelRBD(handle))
    }

    /// The size of an attached volume after it grew: asks the kernel to re-read the image header
    /// (it also does on the cluster's own notification) and reads the block device's size.
    /// - Throws: `not_found` when the volume is not mapped; `ceph.unreachable` when the refresh fails.
    public func extend(_ volume: AttachedVolume, attachmentID: String) async throws -> UInt64 {
        let sysfs = KRBDSysfs(host: host)
        guard let identity = try await identity(of: volume), let device = try await devices(of: identity, sysfs: sysfs).first else {
            throw TetherError(.notFound, "the volume is not mapped on this node", hint: "attach it again")
        }
        do {
            try await host.writeAttribute("\(device.directory)/refresh", "1")
        } catch {
            // Kernels without `refresh` still update the size on the cluster's header notification.
            guard KRBDFailure.errno(of: error) == ENOENT else { throw refreshFailed(error, device) }
        }
        return try await sysfs.sizeBytes(of: device)
    }

    private func refreshFailed(_ error: any Error, _ device: KRBDSysfs.Device) -> TetherError {
        TetherError(
            .cephUnreachable,
            "the kernel could not re-read the header of \(device.spec.imageName) for \(device.devicePath) (\(KRBDFailure.errno(of: error).map(KRBDFailure.text) ?? "refused"))",
            hint: "check that the cluster is reachable, then extend again")
    }

    // MARK: - Mapping

    func loadDriver(_ sysfs: KRBDSysfs) async throws {
        if await sysfs.isLoaded { return }
        // As `rbd map` does: the bus appears when the module loads.
        _ = try? await host.run(Command("modprobe", ["rbd"], timeout: .seconds(30)))
        guard await sysfs.isLoaded else {
            throw TetherError(
                .unsupported, "this kernel has no rbd driver: \(KRBDSysfs.bus) is missing and `modprobe rbd` did not add it",
                hint: "load the rbd kernel module, or attach in network mode")
        }
    }

    /// Network mode's checks before the kernel joins the cluster: its errors are clearer than an
    /// errno, and librados sees the other clients the kernel would share the image with.
    /// - Parameters:
    ///   - claim: how a read-write mapping may take the image from other clients (`RBDClaim`);
    ///     nil for a multiattach volume, which is shared by design.
    ///   - formerClient: this node's own mapping before a reboot (client id and address as sysfs
    ///     showed them): its lock is stale, and the new mapping breaks it.
    func precheck(
        _ target: Target, key: Secret, connections: RADOSConnections, claim: RBDClaim?, formerClient: [String] = [], metadata: Logger.Metadata = [:]
    ) async throws {
        let connection = try await connections.connection(cluster: target.cluster, user: target.user, key: key)
        // A read-only mapping never takes the lock, so it cannot fight for it.
        guard let claim, !target.readOnly else {
            _ = try await connection.inspect(pool: target.spec.pool, image: target.spec.image)
            return
        }
        _ = try await claim.check(connection, pool: target.spec.pool, image: target.spec.image, ignoring: formerClient, logger: logger, metadata: metadata)
    }

    func map(_ request: KRBDMapRequest, key: Secret, cluster: CephCluster, sysfs: KRBDSysfs) async throws {
        let line = try request.line(key: key)
        let control = await sysfs.controlFile("add")
        do {
            // The kernel connects to the cluster inside this write and answers with an errno.
            try await host.writeAttribute(control, line.reveal { $0 })
        } catch {
            throw KRBDFailure.mapFailed(error, request: request, cluster: cluster.name, key: key)
        }
    }

    enum Found: Sendable {
        case mapped(KRBDSysfs.Device)
        case otherCluster(KRBDSysfs.Device)
    }

    /// Waits for the mapping of `target` with its block device, /dev node and udev's links.
    ///
    /// `waitFor` listens for uevents before its first look, and every look reads sysfs afresh, so
    /// nothing that happened since the write is missed. A new mapping of the same image whose fsid
    /// is no registered cluster's can only be this write answered by the wrong cluster: it is
    /// unmapped and reported. One of a registered cluster may be another attach's, and is left.
    func waitForMapping(_ target: Target, sysfs: KRBDSysfs, ignoring before: Set<Int>, registered: Set<String>) async throws -> KRBDSysfs.Device {
        let found: Found
        do {
            found = try await host.waitFor("the device of \(target.spec.imageName) in cluster \(target.cluster.name)", subsystems: ["block", "rbd"], timeout: timeouts.device) {
                let sameImage = try await sysfs.devices(sameImageAs: target.spec)
                if let mine = sameImage.first(where: { $0.spec == target.spec }) {
                    return await isReady(mine, target, sysfs: sysfs) ? .mapped(mine) : nil
                }
                if let stray = sameImage.first(where: { !before.contains($0.id) && !registered.contains($0.spec.fsid) }) {
                    return .otherCluster(stray)
                }
                return nil
            }
        } catch let error as TetherError where error.code == .timedOut {
            throw await explainTimeout(target, sysfs: sysfs, ignoring: before)
        }
        switch found {
        case .mapped(let device):
            return device
        case .otherCluster(let device):
            try? await unmap(device, force: true, sysfs: sysfs)
            throw TetherError(
                .conflict, "the monitors of cluster \(target.cluster.name) (\(target.cluster.monHost)) belong to cluster \(device.spec.fsid), not \(target.spec.fsid)",
                hint: "fix mon_host or fsid in clusters.d/\(target.cluster.name).toml")
        }
    }

    /// Ready when the block device and its /dev node exist and, when required, udev's links point at it.
    func isReady(_ device: KRBDSysfs.Device, _ target: Target, sysfs: KRBDSysfs) async -> Bool {
        guard await sysfs.blockDeviceReady(device) else { return false }
        guard requireStableNames else { return true }
        let node = await host.resolvePath(device.devicePath) ?? device.devicePath
        for link in links(of: target) {
            if await host.resolvePath(link) != node { return false }
        }
        return true
    }

    /// The links udev must make: the per-cluster name, and by-tether when a map file names the volume.
    func links(of target: Target) -> [String] {
        var links = [target.stableName]
        if mapDirectory != nil, let byTether = StableNames.byTether(volumeID: target.volumeID) { links.append(byTether) }
        return links
    }

    /// A timeout that says which step did not happen.
    func explainTimeout(_ target: Target, sysfs: KRBDSysfs, ignoring before: Set<Int>) async -> TetherError {
        let limit = timeouts.device
        let sameImage = (try? await sysfs.devices(sameImageAs: target.spec)) ?? []
        guard let device = sameImage.first(where: { $0.spec == target.spec }) else {
            let others = sameImage.filter { !before.contains($0.id) }.map { "\($0.devicePath) of cluster \($0.spec.fsid)" }
            return TetherError(
                .timedOut, "the kernel took the map request for \(target.spec.imageName) but no device of cluster \(target.cluster.name) (\(target.spec.fsid)) appeared within \(limit)"
                    + (others.isEmpty ? "" : "; new mappings of that image: \(others.joined(separator: ", "))"),
                hint: others.isEmpty ? "see dmesg for rbd messages" : "the monitors in clusters.d/\(target.cluster.name).toml may belong to another cluster")
        }
        guard await sysfs.blockDeviceReady(device) else {
            return TetherError(
                .timedOut, "\(target.spec.imageName) of cluster \(target.cluster.name) is mapped as \(device.blockName), but \(device.devicePath) did not appear within \(limit)",
                hint: "check that udevd runs and /dev is the host's devtmpfs")
        }
        let node = await host.resolvePath(device.devicePath) ?? device.devicePath
        var missing: [String] = []
        for link in links(of: target) {
            if await host.resolvePath(link) != node { missing.append(link) }
        }
        return TetherError(
            .timedOut, "udev did not link \(missing.joined(separator: " and ")) to \(device.devicePath) within \(limit)",
            hint: "install udev/60-tether-rbd.rules and tether as /usr/bin/tether, then `udevadm control --reload`; or turn off require_stable_names")
    }

    /// An existing mapping of the image: the attach is done already, if its access mode fits.
    func adopt(_ device: KRBDSysfs.Device, _ target: Target, sysfs: KRBDSysfs, registered: Set<String>) async throws -> AttachedVolume {
        if let readOnly = await sysfs.isReadOnly(device), readOnly != target.readOnly {
            throw TetherError(
                .conflict, "\(target.spec.imageName) of cluster \(target.cluster.name) is mapped here \(readOnly ? "read-only" : "read-write") already, as \(device.devicePath)",
                hint: "detach it first to attach it \(target.readOnly ? "read-only" : "read-write")")
        }
        try await writeMapFile(target, adopting: true)
        if !(await isReady(device, target, sysfs: sysfs)), await sysfs.blockDeviceReady(device) {
            // Mapped before its map file existed (or before the rules): have udev run the rules again.
            try? await host.writeAttribute("\(device.blockDirectory)/uevent", "change")
        }
        let ready = try await waitForMapping(target, sysfs: sysfs, ignoring: Set(try await sysfs.deviceIDs()), registered: registered)
        return try await describe(ready, target, sysfs: sysfs)
    }

    func describe(_ device: KRBDSysfs.Device, _ target: Target, sysfs: KRBDSysfs) async throws -> AttachedVolume {
        let size = try await sysfs.sizeBytes(of: device)
        let description = BlockDiskDescription(
            devicePath: requireStableNames ? target.stableName : device.devicePath, attachmentID: target.attachmentID, volumeID: target.volumeID,
            readOnly: target.readOnly, discard: target.discard)
        let spec = target.spec
        let handle = KernelRBDHandle(
            volumeID: target.volumeID, cluster: target.cluster.name, fsid: spec.fsid, user: target.user.name, resolvedBy: "\(target.match)",
            pool: spec.pool, namespace: spec.namespace, image: spec.image, snapshot: spec.snapshot, deviceID: device.id, device: device.devicePath,
            stableName: target.stableName, byTether: links(of: target).dropFirst().first, readOnly: target.readOnly, clientID: device.clientID,
            clientAddress: device.clientAddress)
        return AttachedVolume(
            protocolName: "rbd", mode: .kernel,
            paths: [AttachedVolume.Path(portal: target.cluster.monHost, target: "\(target.cluster.name):\(spec.imageName)", lun: nil, state: "mapped")],
            wwid: nil, sizeBytes: size, blockSize: await sysfs.logicalBlockSize(of: device), devicePath: device.devicePath,
            diskXML: description.libvirtXML, qemuBlockdev: description.qemuBlockdev, qemuObjects: [], secretFiles: [],
            handle: .kernelRBD(handle))
    }

    // MARK: - Unmapping

    /// The image of an attachment, from its details. A detach of an interrupted attach finds the
    /// cluster again from the journaled connection_info.
    struct Identity {
        var spec: KRBDImageSpec
        /// The device number at attach: a hint only, checked against `spec`.
        var deviceID: Int?
        var volumeID: String?
    }

    func identity(of volume: AttachedVolume) async throws -> Identity? {
        guard let handle = volume.handle.kernelRBD else {
            return nil  // cut off before the request was even read: nothing can have been mapped
        }
        var fsid = handle.fsid
        if fsid == nil, let data = handle.connection {
            do {
                let connection = try RBDConnectionData(ConnectionInfo(driverVolumeType: "rbd", data: data))
                fsid = try CephResolver.resolve(connection, in: await registry()).cluster.fsid.uuidString
            } catch let error as TetherError {
                throw TetherError(
                    error.code, "cannot tell which Ceph cluster's mapping of \(handle.pool)/\(handle.image) to unmap: \(error.message)",
                    hint: "unmap it by hand: the /sys/bus/rbd/devices/N whose cluster_fsid, pool and name match; echo N > /sys/bus/rbd/remove_single_major")
            }
        }
        guard let fsid else {
            throw TetherError(.conflict, "the attachment of \(handle.pool)/\(handle.image) names no Ceph cluster, so Tether cannot tell which mapping is its own")
        }
        let spec = KRBDImageSpec(fsid: fsid, pool: handle.pool, namespace: handle.namespace, image: handle.image, snapshot: handle.snapshot)
        return Identity(spec: spec, deviceID: handle.deviceID, volumeID: handle.volumeID)
    }

    /// The mappings to undo: the one at the journaled number if it still maps this image, else every
    /// mapping of the image (numbers change at reboot; a second mapping is a rollback's leftover).
    func devices(of identity: Identity, sysfs: KRBDSysfs) async throws -> [KRBDSysfs.Device] {
        let devices = try await sysfs.devices(matching: identity.spec)
        if let hint = identity.deviceID, let hinted = devices.first(where: { $0.id == hint }) { return [hinted] }
        return devices
    }

    func unmap(_ device: KRBDSysfs.Device, force: Bool, sysfs: KRBDSysfs) async throws {
        let control = await sysfs.controlFile("remove")
        var busyRetries = 2
        while true {
            do {
                try await host.writeAttribute(control, force ? "\(device.id) force" : "\(device.id)")
                break
            } catch {
                switch KRBDFailure.errno(of: error) {
                case ENOENT?:
                    return  // gone already
                case EBUSY? where busyRetries > 0:
                    // udev's blkid opens the device after its last close; krbd.cc retries too.
                    busyRetries -= 1
                    try await host.clock.sleep(for: .milliseconds(250))
                default:
                    throw KRBDFailure.unmapFailed(error, device: device)
                }
            }
        }
        _ = try await host.waitFor("the unmap of \(device.devicePath)", subsystems: ["block", "rbd"], timeout: timeouts.unmap) {
            await sysfs.device(device.id)?.spec == device.spec ? nil : true
        }
    }

    // MARK: - Map files

    func writeMapFile(_ target: Target, adopting: Bool) async throws {
        guard let mapDirectory, StableNames.isUsableVolumeID(target.volumeID) else { return }
        let path = StableNames.mapFile(key: target.spec.mapKey, directory: mapDirectory)
        let contents = StableNames.mapFileContents(volumeID: target.volumeID)
        if let existing = try? await host.read(path) {
            if existing == contents { return }
            if adopting {
                throw TetherError(
                    .conflict, "\(target.spec.imageName) of cluster \(target.cluster.name) is mapped here for another volume (\(path): \(existing.trimmingCharacters(in: .whitespacesAndNewlines)))",
                    hint: "detach that volume first")
            }
        }
        try await host.writeFile(path, contents: Array(contents.utf8), mode: 0o644)
    }

    /// Removes the map file of `spec` unless it names another volume.
    func removeMapFile(_ spec: KRBDImageSpec, volumeID: String?) async throws {
        guard let mapDirectory else { return }
        let path = StableNames.mapFile(key: spec.mapKey, directory: mapDirectory)
        if let volumeID, let existing = try? await host.read(path), existing != StableNames.mapFileContents(volumeID: volumeID) { return }
        try await host.removeFile(path)
    }
}
