import TetherCore
import TetherMultipath

/// One path of an attached volume as found on the host now.
struct PresentPath: Sendable {
    var path: ISCSIPath
    var session: KernelISCSISession?
    /// The LUN's SCSI device directory, when the LUN is there.
    var scsiDirectory: String?
    var device: PathDevice?
}

/// Errors a detach met: without force the first one ends it; with force it goes on and
/// reports them all at the end (os-brick's force without ignore_errors).
struct DetachErrors {
    let force: Bool
    private(set) var errors: [any Error] = []

    init(force: Bool) { self.force = force }

    mutating func record(_ error: any Error) throws {
        guard force else { throw error }
        errors.append(error)
    }

    func finish(_ what: String) throws {
        guard let first = errors.first else { return }
        throw TetherError(
            (first as? TetherError)?.code ?? .hostCommandFailed,
            "\(what) went on past \(errors.count) error(s): \(errors.map { "\($0)" }.joined(separator: "; "))",
            hint: "leftovers may remain on this node; the log names them", cause: first)
    }
}

extension KernelISCSIConnector {
    /// Removes the volume's multipath map and disks, then logs out of each session no other
    /// LUN uses and deletes its node record. Works from `paths` alone (an interrupted attach),
    /// and what is already gone is fine.
    public func detach(_ volume: AttachedVolume, attachmentID: String, force: Bool) async throws {
        guard volume.mode == .kernel else { return }
        var errors = DetachErrors(force: force)
        let present = try await locate(volume)
        let devices = present.compactMap(\.device)

        // The map first: flushing it writes out what QEMU wrote through it.
        var map = try await multipath.map(holding: devices.map(\.name))
        // Paths gone but the map left (queueing with no path): found by the LUN's uuid, never by
        // the dm-N name alone, which the kernel may have given to another map since.
        if map == nil, let wwid = volume.wwid {
            map = try await multipath.map(for: WWID(sysfs: wwid))
        }
        if let map {
            do { try await multipath.remove(map, force: force) } catch { try errors.record(error) }
        }

        // A disk used without multipath is flushed before it goes; a failed attach has none in use.
        let usedDirectly = map == nil ? volume.devicePath.flatMap(configuration.paths.kernelName(ofDeviceNode:)) : nil
        for device in devices where device.name == usedDirectly {
            do {
                let node = configuration.paths.deviceNode(device.name)
                let result = try await host.run(Command("blockdev", ["--flushbufs", node], timeout: configuration.timeouts.flush))
                if !result.succeeded {
                    throw TetherError(
                        .hostCommandFailed, "blockdev --flushbufs \(node) exited \(result.exitCode): \(result.stderr.trimmedLine)",
                        hint: "the target may be unreachable; detach with force to drop unwritten data")
                }
            } catch {
                try errors.record(error)
            }
        }

        for error in await deleteSCSIDevices(present.compactMap(\.scsiDirectory)) {
            try errors.record(error)
        }

        // Each (portal, target) once, with every LUN of this volume on it.
        var sessions: [(path: ISCSIPath, luns: Set<Int>)] = []
        for entry in present {
            if let index = sessions.firstIndex(where: { $0.path.portal == entry.path.portal && $0.path.iqn == entry.path.iqn }) {
                sessions[index].luns.insert(entry.path.lun)
            } else {
                sessions.append((entry.path, [entry.path.lun]))
            }
        }
        for (path, luns) in sessions {
            do {
                try await locks.withLock(path.portal, path.iqn) { try await releaseSession(path, keepingFor: luns) }
            } catch {
                try errors.record(error)
            }
        }
        if await disksGone(present) {
            await withdrawVolumeID(volume.handle.kernelISCSI?.volumeID, wwid: volume.wwid.map(WWID.init(sysfs:)) ?? devices.first?.wwid)
        }
        try errors.finish("detach of \(volume.wwid ?? attachmentID)")
    }

    /// Logs out of the session of `path` unless a LUN other than `luns` is on it, and deletes
    /// the node record when no session is left. Holds the path's lock.
    func releaseSession(_ path: ISCSIPath, keepingFor luns: Set<Int>) async throws {
        if let session = try await sysfs.session(serving: path.portal, target: path.iqn) {
            let others = try await otherLUNs(of: session, than: luns)
            guard others.isEmpty else {
                logger.info("session kept for other LUNs", metadata: ["session": "\(session)", "luns": "\(others.map(\.description))"])
                return
            }
            try await iscsiadm.logout(path)
        }
        try await iscsiadm.deleteNode(path)
    }

    /// Whether none of the paths' disks is left: the udev map file may go then.
    func disksGone(_ present: [PresentPath]) async -> Bool {
        for entry in present {
            if let directory = entry.scsiDirectory, await sysfs.exists(directory) { return false }
        }
        return true
    }

    /// The volume's paths and what of each is on the host now.
    func locate(_ volume: AttachedVolume) async throws -> [PresentPath] {
        var paths: [ISCSIPath] = []
        for entry in volume.paths {
            guard let lun = entry.lun, let portal = try? Portal(parsing: entry.portal), !entry.target.isEmpty else {
                logger.warning("skipping a path that names no portal, target or LUN", metadata: ["path": "\(entry.portal) \(entry.target)"])
                continue
            }
            let path = ISCSIPath(portal: portal, iqn: entry.target, lun: lun)
            if !paths.contains(path) { paths.append(path) }
        }
        let sessions = try await sysfs.sessions()
        // A target found by discovery: its portals are known only from the sessions.
        if let targets = volume.handle.kernelISCSI?.anyPortalOf, !targets.isEmpty, let lun = paths.first?.lun {
            for session in sessions where targets.contains(session.targetName) {
                let path = ISCSIPath(portal: Portal(host: session.address, port: session.port), iqn: session.targetName, lun: lun)
                if !paths.contains(where: { session.serves($0.portal, target: $0.iqn) }) { paths.append(path) }
            }
        }
        var present: [PresentPath] = []
        for path in paths {
            let session = sessions.first { $0.serves(path.portal, target: path.iqn) }
            var entry = PresentPath(path: path, session: session)
            if let session, let directory = try await sysfs.scsiDirectory(of: session, lun: path.lun) {
                entry.scsiDirectory = directory
                entry.device = try await sysfs.pathDevice(at: directory)
            }
            present.append(entry)
        }
        return present
    }

    /// Has every path re-read the LUN's capacity, then the multipath map; answers the new size.
    public func extend(_ volume: AttachedVolume, attachmentID: String) async throws -> UInt64 {
        let devices = try await locate(volume).compactMap(\.device)
        guard !devices.isEmpty else {
            throw TetherError(.notFound, "no disk of \(volume.wwid ?? attachmentID) is on this node", hint: "tether show lists its paths; attach it again")
        }
        var rescanned: [PathDevice] = []
        for device in devices {
            // The write returns after the disk driver re-read the capacity.
            try await host.writeAttribute("\(device.scsiDirectory)/rescan", "1")
            if let updated = try await sysfs.pathDevice(at: device.scsiDirectory) { rescanned.append(updated) }
        }
        guard !rescanned.isEmpty else {
            throw TetherError(.notFound, "the disks of \(volume.wwid ?? attachmentID) went away during the rescan", hint: "check the paths: tether show")
        }
        let agreed = try PathAgreement.agree(rescanned)
        if let map = try await multipath.map(holding: rescanned.map(\.name)) {
            let size = try await multipath.resize(map)
            if size != agreed.sizeBytes {
                logger.warning("multipath map size differs from its paths", metadata: ["map": "\(map)", "map_bytes": "\(size)", "path_bytes": "\(agreed.sizeBytes)"])
            }
            return size
        }
        return agreed.sizeBytes
    }
}
