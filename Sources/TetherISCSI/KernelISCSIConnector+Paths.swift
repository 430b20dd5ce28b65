import TetherCore
import TetherMultipath

/// What connecting one path did, so that exactly this can be undone.
struct ConnectedPath: Sendable {
    var path: ISCSIPath
    var session: KernelISCSISession
    var device: PathDevice
    var steps: PathSteps
    /// Whether udev learnt the volume's id before the disk's add event (`announce`): its add
    /// event named the disk, and no second event is needed.
    var announced = false
}

/// The changes one attach made on one path.
struct PathSteps: Sendable {
    var createdNode = false
    var createdSession = false
    var createdDevice = false
}

extension KernelISCSIConnector {
    /// Logs in to `path` unless a session is there, scans its LUN, and waits for the disk.
    /// Fails having undone its own steps.
    /// - Parameter announce: tell udev the volume's id as soon as the LUN's WWID shows and checks
    ///   out, before its disk does (`announce`); for a single-path attach.
    func connect(_ path: ISCSIPath, _ plan: Plan, announce: Bool = false) async throws -> ConnectedPath {
        try await locks.withLock(path.portal, path.iqn) {
            var steps = PathSteps()
            var announced: (wwid: WWID, beforeAdd: Bool)?
            do {
                var session = try await sysfs.session(serving: path.portal, target: path.iqn)
                if session == nil {
                    let found = try await iscsiadm.findRecord(path)
                    var record = found.file
                    if !found.exists {
                        try await iscsiadm.createNode(path)
                        steps.createdNode = true
                        record = try await iscsiadm.recordFile(path)
                    }
                    try await configureNode(path, record: record, plan)
                    // No session existed under this lock, so one that shows up now, even after a
                    // failed or timed-out login, is this attach's to log out.
                    steps.createdSession = true
                    if try await iscsiadm.login(path) == .alreadyLoggedIn { steps.createdSession = false }
                    session = try await host.waitFor("the session to \(path.portal) \(path.iqn)", subsystems: ["iscsi_session"], timeout: configuration.timeouts.session) {
                        try await sysfs.session(serving: path.portal, target: path.iqn)
                    }
                }
                guard let session else { throw TetherError(.internalError, "no session to \(path.portal) \(path.iqn)") }
                if try await sysfs.scsiDirectory(of: session, lun: path.lun) == nil {
                    steps.createdDevice = true
                    try await sysfs.scan(session, lun: path.lun)
                    if announce { announced = await self.announce(path, on: session, plan) }
                }
                let device = try await waitForDevice(of: path, on: session)
                let named = announced.map { $0.beforeAdd && $0.wwid == device.wwid } ?? false
                return ConnectedPath(path: path, session: session, device: device, steps: steps, announced: named)
            } catch {
                if let announced { await withdrawVolumeID(plan.request.volumeID, wwid: announced.wwid) }
                await undoLocked(path, steps)
                throw error
            }
        }
    }

    /// Sets the node record up before login: no automatic LUN scan or login at boot, and CHAP.
    /// With its record file found, every setting goes into the file in one write: each iscsiadm
    /// call costs a process (a large part of an attach under a slow CPU) and a record rewrite, and
    /// iscsiadm reads the file again at login. A setting the file lacks (an open-iscsi that does
    /// not know node.session.scan writes none) goes through iscsiadm, which refuses what it does
    /// not know. Without the file (records kept outside `nodeDirectories`), iscsiadm sets all.
    func configureNode(_ path: ISCSIPath, record: String?, _ plan: Plan) async throws {
        var chapSettings: [(name: String, value: String)] = []
        if let chap = plan.chap {
            chapSettings = [("node.session.auth.authmethod", "CHAP"), ("node.session.auth.username", chap.username)]
            if let mutual = plan.mutualCHAP { chapSettings.append(("node.session.auth.username_in", mutual.username)) }
        }
        let scan = (name: "node.session.scan", value: "manual")
        if let record {
            let text = try await host.read(record)
            var settings = [(name: "node.startup", value: "manual")] + chapSettings
            if ISCSINodeRecord.value(of: scan.name, in: text) != nil {
                settings.insert(scan, at: 0)
            } else if try await !iscsiadm.update(path, scan.name, scan.value) {
                logger.notice("open-iscsi has no node.session.scan; the kernel scans every LUN of the target at login", metadata: ["portal": "\(path.portal)"])
            }
            try await iscsiadm.writeRecord(record, text: text, settings: settings, chap: plan.chap, mutual: plan.mutualCHAP)
            return
        }
        let all = [scan, ("node.startup", "manual")] + chapSettings
        if try await !iscsiadm.update(path, all) {
            if try await !iscsiadm.update(path, scan.name, scan.value) {
                logger.notice("open-iscsi has no node.session.scan; the kernel scans every LUN of the target at login", metadata: ["portal": "\(path.portal)"])
            }
            try await iscsiadm.update(path, "node.startup", "manual")
            for (name, value) in chapSettings where try await !iscsiadm.update(path, name, value) {
                throw TetherError(.iscsiCommandFailed, "iscsiadm refused \(name) for \(path.portal) \(path.iqn)", hint: "check the open-iscsi version")
            }
        }
        guard let chap = plan.chap else { return }
        try await iscsiadm.writeSecrets(path, chap: chap, mutual: plan.mutualCHAP)
    }

    /// Writes the volume's udev map file (`publishVolumeID`) once the scan made the LUN's SCSI
    /// device, which carries the WWID before the disk driver makes its block device. The kernel
    /// sends the disk's add event only after its block directory shows, so with none there yet,
    /// udev reads the file when it handles that event, and the attach spares a `change` event
    /// (udev running every storage rule on the disk twice). Returns the WWID written and whether
    /// that was before the disk's add event; nil when nothing was written.
    func announce(_ path: ISCSIPath, on session: KernelISCSISession, _ plan: Plan) async -> (wwid: WWID, beforeAdd: Bool)? {
        // Nothing to read yet (or unreadable): the caller publishes after the disk shows.
        guard let directory = try? await sysfs.scsiDirectory(of: session, lun: path.lun), let wwid = await sysfs.wwid(at: directory) else { return nil }
        // A LUN that is not the volume is refused after the disk shows, with its own error.
        guard (try? plan.check(wwid)) != nil, volumeMapFile(wwid) != nil else { return nil }
        await publishVolumeID(plan.request.volumeID, wwid: wwid)
        // The block directory missing (or unreadable) means its add event is still to come.
        let blocks = (try? await host.listDirectory("\(directory)/block")) ?? []
        return (wwid, blocks.isEmpty)
    }

    /// Waits for the disk of the path's LUN; says why when it does not come.
    func waitForDevice(of path: ISCSIPath, on session: KernelISCSISession) async throws -> PathDevice {
        let timeout = configuration.timeouts.device
        do {
            return try await host.waitFor("the disk of LUN \(path.lun) on \(session)", subsystems: ["block", "scsi"], timeout: timeout) {
                try await sysfs.pathDevice(of: session, lun: path.lun)
            }
        } catch let error as TetherError where error.code == .timedOut {
            if let now = try? await sysfs.session(serving: path.portal, target: path.iqn), !now.isLoggedIn {
                throw TetherError(.iscsiUnreachable, "the session to \(path.portal) \(path.iqn) is \(now.state)", hint: "check the network to the portal", cause: error)
            }
            throw TetherError(
                .iscsiLUNNotFound, "LUN \(path.lun) of \(path.iqn) at \(path.portal) did not appear within \(timeout)",
                hint: "check target_lun, and that the target maps the LUN to this node's initiator", cause: error)
        }
    }

    /// Undoes failed or refused attaches: the multipath map if it holds only disks this attach
    /// made, then each path's own steps.
    /// - Parameter mayRemoveMap: false where the disks may have joined a map that existed before
    ///   (a heal whose LUN came back as another volume's: that volume's map, perhaps in use).
    func undo(_ connected: [ConnectedPath], map: MultipathMap?, mayRemoveMap: Bool = true) async {
        let created = Set(connected.filter(\.steps.createdDevice).map(\.device.name))
        let candidate: MultipathMap? = if !mayRemoveMap { nil } else if let map { map } else { try? await multipath.map(holding: created) }
        if let candidate, !candidate.slaves.isEmpty, Set(candidate.slaves).isSubset(of: created) {
            do {
                try await multipath.remove(candidate, force: true)
            } catch {
                logger.warning("cannot remove the multipath map of a failed attach", metadata: ["map": "\(candidate)", "error": "\(error)"])
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for path in connected {
                group.addTask {
                    _ = try? await locks.withLock(path.path.portal, path.path.iqn) { await undoLocked(path.path, path.steps) }
                }
            }
        }
    }

    /// Undoes `steps` on `path`, holding its lock: deletes the disk it made, logs out of the
    /// session it made when no other LUN is in use there, deletes the node record it made.
    func undoLocked(_ path: ISCSIPath, _ steps: PathSteps) async {
        let session = try? await sysfs.session(serving: path.portal, target: path.iqn)
        if steps.createdDevice, let session, let directory = try? await sysfs.scsiDirectory(of: session, lun: path.lun) {
            await deleteSCSIDevices([directory])
        }
        var loggedOut = session == nil
        if steps.createdSession, let session, (try? await otherLUNs(of: session, than: [path.lun]))?.isEmpty == true {
            do {
                try await iscsiadm.logout(path)
                loggedOut = true
            } catch {
                logger.warning("cannot log out after a failed attach", metadata: ["path": "\(path)", "error": "\(error)"])
            }
        }
        if steps.createdNode, loggedOut {
            try? await iscsiadm.deleteNode(path)
        }
    }

    /// Deletes SCSI devices (the kernel syncs their cache first) and waits until they are gone.
    @discardableResult
    func deleteSCSIDevices(_ directories: [String]) async -> [any Error] {
        var errors: [any Error] = []
        for directory in directories {
            do {
                try await host.writeAttribute("\(directory)/delete", "1")
            } catch {
                if await sysfs.exists(directory) { errors.append(error) }
            }
        }
        guard !directories.isEmpty else { return errors }
        do {
            let names = directories.map { $0.split(separator: "/").last.map(String.init) ?? $0 }
            try await host.waitFor("removal of SCSI devices \(names.joined(separator: ", "))", subsystems: ["scsi", "block"], timeout: configuration.timeouts.removal) {
                for directory in directories where await sysfs.exists(directory) { return nil as Void? }
                return ()
            }
        } catch {
            errors.append(error)
        }
        return errors
    }

    /// LUNs of `session` other than `luns`: while any is there, the session stays.
    func otherLUNs(of session: KernelISCSISession, than luns: Set<Int>) async throws -> [SCSIAddress] {
        try await sysfs.scsiDevices(of: session).map(\.address).filter { !luns.contains($0.lun) }
    }
}
