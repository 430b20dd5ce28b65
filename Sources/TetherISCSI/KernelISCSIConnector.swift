import Logging
import TetherCore
import TetherMultipath

/// iSCSI in kernel mode: open-iscsi logs in to each path, the kernel makes a SCSI disk (sdX)
/// per path, and dm-multipath joins them when the node multipaths. The result is a host block
/// device with a stable name, for QEMU to open as `host_device`.
///
/// Paths: with `multipath` and more than one path, or with `enforce_multipath`, every path is
/// logged in at once and the paths must agree on WWID and size; otherwise the paths are tried
/// in order and the first that yields the LUN is used (os-brick's single-path behaviour).
/// Sessions scan only the wanted LUN (node.session.scan = manual), and a session is logged out
/// only when no other LUN of it is left. Whatever an attach did is undone when it fails.
public struct KernelISCSIConnector: Connector {
    public let driverVolumeTypes: Set<String> = ["iscsi"]
    public let mode: AttachMode = .kernel

    let host: any Host
    let configuration: KernelISCSIConfiguration
    let discovery: SendTargetsDiscovery
    let logger: Logger
    let locks = PortalTargetLocks()
    let iscsiadm: OpenISCSI
    let sysfs: ISCSISysfs
    let multipath: Multipath

    /// - Parameters:
    ///   - discovery: finds the portals of a target when connection_info names one portal and
    ///     the node multipaths; libiscsi's SendTargets unless given.
    public init(
        host: any Host, configuration: KernelISCSIConfiguration = KernelISCSIConfiguration(), discovery: SendTargetsDiscovery = .libiscsi(),
        logger: Logger = Logger(label: "tether.iscsi.kernel")
    ) {
        self.host = host
        self.configuration = configuration
        self.discovery = discovery
        self.logger = logger
        self.iscsiadm = OpenISCSI(host: host, configuration: configuration, logger: logger)
        self.sysfs = ISCSISysfs(host: host, paths: configuration.paths)
        self.multipath = Multipath(host: host, paths: configuration.paths, timeouts: configuration.multipathTimeouts, logger: logger)
    }

    /// What one attach asks for, once read.
    struct Plan: Sendable {
        var request: AttachRequest
        var chap: CHAPCredentials?
        var mutualCHAP: CHAPCredentials?
        var readOnly: Bool
        /// The WWID connection_info promises (`wwid` or `scsi_wwn`); os-brick's payloads have none.
        var expectedWWID: String?

        func check(_ wwid: WWID?) throws {
            guard let expectedWWID else { return }
            guard let wwid, wwid.matches(expectedWWID) else {
                throw TetherError(
                    .iscsiWWIDMismatch, "the LUN has WWID \(wwid?.sysfs ?? "none"), connection_info expects \(expectedWWID)",
                    hint: "the target maps another volume at this LUN; check target_lun")
            }
        }
    }

    public func attach(_ request: AttachRequest) async throws -> AttachedVolume {
        var info = try ISCSIConnectionData(request.connectionInfo)
        let data = request.connectionInfo.data
        let addressing = try LUNAddressing(connectionInfoValue: data["addressing_mode"]?.stringValue)
        if let chap = info.chap {
            try ISCSINodeRecord.check(chap.password.reveal { $0 }, what: "auth_password")
            try ISCSINodeRecord.check(chap.username, what: "auth_username")
        }
        if let mutual = info.mutualCHAP {
            try ISCSINodeRecord.check(mutual.password.reveal { $0 }, what: "target_auth_password")
            try ISCSINodeRecord.check(mutual.username, what: "target_auth_username")
        }
        let node = request.connector
        if info.needsDiscovery, node.multipath || node.enforceMultipath || info.paths[0].iqn.isEmpty {
            info.paths = try await discovery.discover(info.paths[0], node.initiator, info.discoveryCHAP ?? info.chap)
        }
        let paths = info.paths.map { ISCSIPath(portal: $0.portal, iqn: $0.iqn, lun: addressing.kernelLUN($0.lun)) }
        let plan = Plan(
            request: request, chap: info.chap, mutualCHAP: info.mutualCHAP,
            readOnly: request.accessMode == .readOnly || info.accessMode == .readOnly,
            expectedWWID: (data["wwid"] ?? data["scsi_wwn"])?.stringValue)
        if try await usesMultipath(node, pathCount: paths.count) {
            return try await attachMultipath(paths, plan)
        }
        return try await attachSinglePath(paths, plan)
    }

    func usesMultipath(_ node: ConnectorProperties, pathCount: Int) async throws -> Bool {
        guard node.enforceMultipath || (node.multipath && pathCount > 1) else { return false }
        if await multipath.isRunning() { return true }
        if node.enforceMultipath {
            throw TetherError(
                .multipathUnavailable, "enforce_multipath is set but multipathd does not answer", hint: "start multipathd, or attach without enforce_multipath")
        }
        logger.warning("multipathd does not answer; attaching over one path", metadata: ["paths": "\(pathCount)"])
        return false
    }

    /// Tries the paths in order; the first that yields the LUN is used.
    func attachSinglePath(_ paths: [ISCSIPath], _ plan: Plan) async throws -> AttachedVolume {
        var failures: [(ISCSIPath, TetherError)] = []
        for path in paths {
            let connected: ConnectedPath
            do {
                connected = try await connect(path, plan, announce: true)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                let failure = TetherError(wrapping: error, path: path)
                logger.warning("path failed", metadata: ["path": "\(path)", "error": "\(failure)"])
                failures.append((path, failure))
                continue
            }
            do {
                try plan.check(connected.device.wwid)
                if !connected.announced {
                    await publishVolumeID(plan.request.volumeID, wwid: connected.device.wwid)
                    await retriggerUdev(["\(connected.device.blockDirectory)/uevent"])
                }
                // Tether's rule names only disks multipath leaves alone, so its link spares asking multipath.
                var named = await udevName(connected, map: nil, plan)
                let map = named == byTetherName(plan.request.volumeID) ? nil : try await mapWrapping(connected.device, plan)
                if !plan.readOnly { try await waitUntilWritable(connected.device, map: map) }
                if map != nil { named = await udevName(connected, map: map, plan) }
                return await describe([connected], failed: failures, map: map, plan, named: named)
            } catch {
                await undo([connected], map: nil)
                await withdrawVolumeID(plan.request.volumeID, wwid: connected.device.wwid)
                throw error
            }
        }
        throw Self.mostTelling(failures.map(\.1))
    }

    /// Logs in on every path at once, checks they lead to one LUN, and has multipathd join them.
    func attachMultipath(_ paths: [ISCSIPath], _ plan: Plan) async throws -> AttachedVolume {
        let attempts = await withTaskGroup(of: (Int, Result<ConnectedPath, TetherError>).self) { group in
            for (index, path) in paths.enumerated() {
                group.addTask {
                    do {
                        return (index, .success(try await connect(path, plan)))
                    } catch {
                        return (index, .failure(TetherError(wrapping: error, path: path)))
                    }
                }
            }
            var results: [(Int, Result<ConnectedPath, TetherError>)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        var connected: [ConnectedPath] = []
        var failures: [(ISCSIPath, TetherError)] = []
        for (path, attempt) in zip(paths, attempts) {
            switch attempt {
            case .success(let value): connected.append(value)
            case .failure(let error):
                logger.warning("path failed", metadata: ["path": "\(path)", "error": "\(error)"])
                failures.append((path, error))
            }
        }
        guard let first = connected.first else { throw Self.mostTelling(failures.map(\.1)) }
        var map: MultipathMap?
        do {
            let agreed = try PathAgreement.agree(connected.map(\.device)) { device in
                connected.first { $0.device.name == device.name }.map { "\($0.path.portal) \($0.path.iqn) lun \($0.path.lun)" } ?? device.name
            }
            guard let wwid = agreed.wwid else {
                throw TetherError(
                    .iscsiCommandFailed, "\(first.path) reports no WWID (VPD page 0x83), which multipath needs", hint: "give the LUN a device identifier on the target")
            }
            try plan.check(wwid)
            // Before the map exists, so udev names it when multipathd makes it.
            await publishVolumeID(plan.request.volumeID, wwid: wwid)
            do {
                map = try await multipath.assemble(connected.map(\.device), wwid: wwid)
            } catch let error as TetherError where error.code == .multipathFailed && !plan.request.connector.enforceMultipath {
                logger.warning("no multipath map; using one path", metadata: ["device": "\(first.device.name)", "error": "\(error)"])
                await retriggerUdev(["\(first.device.blockDirectory)/uevent"])
            }
            if !plan.readOnly { try await waitUntilWritable(first.device, map: map) }
            return await describe(connected, failed: failures, map: map, plan, named: await udevName(first, map: map, plan))
        } catch {
            await undo(connected, map: map)
            await withdrawVolumeID(plan.request.volumeID, wwid: first.device.wwid)
            throw error
        }
    }

    /// The map a multipathd that takes every disk (find_multipaths off or greedy, or the WWID in
    /// its wwids file) puts over a single-path LUN: then the map, not the disk under it, is the
    /// volume's device, and waiting for it here beats finding the disk held after the attach.
    /// Nil when multipath leaves the disk alone; the disk is used when the map does not come.
    func mapWrapping(_ device: PathDevice, _ plan: Plan) async throws -> MultipathMap? {
        guard let wwid = device.wwid, await multipath.claims(device), await multipath.isRunning() else { return nil }
        do {
            let map = try await multipath.assemble([device], wwid: wwid)
            logger.info("multipathd took the disk into a map", metadata: ["device": "\(device.name)", "map": "\(map)"])
            return map
        } catch let error as TetherError where error.code == .multipathFailed {
            logger.warning("multipath claims the disk but made no map; using the disk", metadata: ["device": "\(device.name)", "error": "\(error)"])
            return nil
        }
    }

    /// Waits until the volume's device (the map over `device`, when there is one) says writable in
    /// its `ro` attribute: a path that just came up may still report the target's earlier state.
    func waitUntilWritable(_ device: PathDevice, map: MultipathMap?) async throws {
        let name = map?.kernelName ?? device.name
        let attribute = map.map { "\(configuration.paths.block)/\($0.kernelName)/ro" } ?? "\(device.blockDirectory)/ro"
        do {
            try await host.waitFor("\(name) to become writable", subsystems: ["block"], timeout: configuration.timeouts.writable) {
                (try? await host.read(attribute).trimmedLine) == "0" ? () : nil
            }
        } catch let error as TetherError where error.code == .timedOut {
            throw TetherError(
                .conflict, "\(configuration.paths.deviceNode(name)) stays read-only", hint: "the target exports the LUN read-only; attach read-only or fix the target",
                cause: error)
        }
    }

    /// The attached volume as the agent records it.
    /// - Parameter named: udev's name for the device (`udevName`); nil when udev gave none.
    func describe(_ connected: [ConnectedPath], failed: [(ISCSIPath, TetherError)], map: MultipathMap?, _ plan: Plan, named: String?) async -> AttachedVolume {
        let primary = connected[0]
        let wwid = primary.device.wwid
        let kernelName = map?.kernelName ?? primary.device.name
        let devicePath = configuration.paths.deviceNode(kernelName)
        let byTether = byTetherName(plan.request.volumeID)
        let stableName = named ?? devicePath
        let size = map.map { $0.sizeBytes > 0 ? $0.sizeBytes : primary.device.sizeBytes } ?? primary.device.sizeBytes
        let description = BlockDiskDescription(
            devicePath: stableName, attachmentID: plan.request.attachmentID, volumeID: plan.request.volumeID, readOnly: plan.readOnly)
        var paths = connected.map { AttachedVolume.Path(portal: $0.path.portal.description, target: $0.path.iqn, lun: $0.path.lun, state: "active") }
        paths += failed.map { AttachedVolume.Path(portal: $0.0.portal.description, target: $0.0.iqn, lun: $0.0.lun, state: "failed: \($0.1.code)") }
        let handle = KernelISCSIHandle(
            volumeID: plan.request.volumeID,
            sessions: connected.map {
                KernelISCSIHandle.Session(
                    portal: $0.path.portal.description, target: $0.path.iqn, lun: $0.path.lun, sid: $0.session.id,
                    scsiAddress: String($0.device.scsiDirectory.split(separator: "/").last ?? ""), device: $0.device.name)
            },
            scsiWWN: wwid?.udev, stableName: stableName, byTether: byTether,
            multipath: map.map { KernelISCSIHandle.Map(name: $0.name, device: $0.kernelName, uuid: $0.uuid) }, chap: plan.chap != nil)
        return AttachedVolume(
            protocolName: "iscsi", mode: .kernel, paths: paths, wwid: wwid?.sysfs, sizeBytes: size,
            blockSize: await sysfs.logicalBlockSize(of: primary.device), devicePath: devicePath,
            diskXML: description.libvirtXML, qemuBlockdev: description.qemuBlockdev, qemuObjects: [], secretFiles: [], handle: .kernelISCSI(handle))
    }

    /// udev's name for the volume's device, the map when there is one (`stableName`); nil when
    /// udev gave none.
    func udevName(_ primary: ConnectedPath, map: MultipathMap?, _ plan: Plan) async -> String? {
        let devicePath = configuration.paths.deviceNode(map?.kernelName ?? primary.device.name)
        let candidates = stableNameCandidates(primary, wwid: primary.device.wwid, map: map, byTether: byTetherName(plan.request.volumeID))
        return await stableName(for: candidates, of: devicePath)
    }

    /// The name udev/60-tether.rules gives the volume's device.
    func byTetherName(_ volumeID: String) -> String {
        "\(configuration.paths.dev)/disk/by-tether/\(volumeID)"
    }

    /// udev's names for the device, best first: Tether's own rule, then the WWID's, then the path's.
    func stableNameCandidates(_ primary: ConnectedPath, wwid: WWID?, map: MultipathMap?, byTether: String) -> [String] {
        let dev = configuration.paths.dev
        var names = [byTether]
        if let map {
            names += ["\(dev)/disk/by-id/dm-uuid-\(map.uuid)", "\(dev)/mapper/\(map.name)"]
        } else {
            if let link = wwid?.wwnLinkName { names.append("\(dev)/disk/by-id/\(link)") }
            if let wwid { names.append("\(dev)/disk/by-id/scsi-\(wwid.udev)") }
            // udev writes IPv6 portals here without brackets.
            let portal = primary.path.portal
            names.append("\(dev)/disk/by-path/ip-\(portal.host):\(portal.port)-iscsi-\(primary.path.iqn)-lun-\(primary.path.lun)")
        }
        return names
    }

    /// The first of `candidates` udev made for `devicePath`, waiting for udev's event a short
    /// while; nil when none came (no udev, or rules without them): the kernel's name is used then.
    /// A name that leads elsewhere (a stale link, a path under a multipath map) does not count.
    func stableName(for candidates: [String], of devicePath: String) async -> String? {
        do {
            return try await host.waitFor("udev's names for \(devicePath)", subsystems: ["block"], timeout: configuration.timeouts.stableName) {
                guard let device = await host.resolvePath(devicePath) else { return nil }
                for candidate in candidates where await host.resolvePath(candidate) == device { return candidate }
                return nil
            }
        } catch {
            logger.warning("no stable name for the device; using the kernel's", metadata: ["device": "\(devicePath)"])
            return nil
        }
    }

    static func mostTelling(_ failures: [TetherError]) -> TetherError {
        failures.min { NetworkISCSIConnector.rank($0.code) < NetworkISCSIConnector.rank($1.code) }
            ?? TetherError.invalidInput("connection_info lists no path")
    }

    /// Paths an attach of `request` may have logged in to; for a target found by discovery,
    /// any session of it (the discovered portals died with the attach).
    public func interruptedAttach(_ request: AttachRequest) -> AttachedVolume {
        guard let info = try? ISCSIConnectionData(request.connectionInfo) else {
            return .partial(protocolName: "iscsi", mode: .kernel, secretFiles: [])
        }
        let addressing = (try? LUNAddressing(connectionInfoValue: request.connectionInfo.data["addressing_mode"]?.stringValue)) ?? .sam
        let paths = info.paths.map {
            AttachedVolume.Path(portal: $0.portal.description, target: $0.iqn, lun: addressing.kernelLUN($0.lun), state: "interrupted")
        }
        let discovered = info.needsDiscovery ? info.paths.map(\.iqn).filter { !$0.isEmpty } : []
        return .partial(
            protocolName: "iscsi", mode: .kernel, paths: paths, secretFiles: [],
            handle: .kernelISCSI(KernelISCSIHandle(volumeID: request.volumeID, anyPortalOf: discovered)))
    }
}

extension TetherError {
    /// `error` as a TetherError that names `path`.
    init(wrapping error: any Error, path: ISCSIPath) {
        if let error = error as? TetherError {
            self = error
        } else {
            self.init(.iscsiCommandFailed, "\(path): \(error)", cause: error)
        }
    }
}
