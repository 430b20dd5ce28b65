import TetherCore
import TetherMultipath

/// One kernel iSCSI attachment as the host shows it now, path by path, against its handle.
struct ISCSISurvey: Sendable {
    /// One journaled path and what of it is on the host.
    struct PathState: Sendable {
        var journaled: KernelISCSIHandle.Session
        /// Nil when the journaled portal does not parse: nothing can be checked or repaired.
        var path: ISCSIPath?
        var session: KernelISCSISession?
        var scsiDirectory: String?
        var device: PathDevice?
        /// The SCSI device's `state` ("running", "offline", "blocked", "transport-offline").
        var scsiState: String?
        /// multipathd's view of the device, when the attachment has a map and multipathd answered.
        var multipathState: MultipathPathState?
        /// The LUN answers with another WWID than journaled: another volume, never touched.
        var foreign = false

        /// A session, the LUN's disk with the journaled WWID, and the disk running.
        var isPresent: Bool {
            guard let session, session.isLoggedIn, device != nil, !foreign else { return false }
            return scsiState == nil || scsiState == "running"
        }

        /// What a heal may do for the path: log in again (no session) or scan the LUN again
        /// (a session without the disk). A session that is not logged in is iscsid's to recover,
        /// and a LUN with another WWID is another volume's.
        var isRepairable: Bool {
            guard path != nil, !foreign else { return false }
            return session == nil || (session?.isLoggedIn == true && scsiDirectory == nil)
        }

        var name: String { "\(journaled.portal) \(journaled.target) lun \(journaled.lun)" }
    }

    var handle: KernelISCSIHandle
    var paths: [PathState]
    /// The map the handle names, found by its uuid; nil when the handle has none or it is gone.
    var map: MultipathMap?
    /// Checks that could not be made, one line each: they make the health unknown at best.
    var failedChecks: [String] = []
    /// Whether the stable name leads to the volume's device; nil when there is no device to lead to.
    var stableNameLeads: Bool?
    /// Where the stable name leads instead, for the problem line.
    var stableNameTarget: String?

    var expectsMap: Bool { handle.multipath != nil }

    /// The device the volume is used through: the map, else the first present path's disk.
    var deviceName: String? {
        if expectsMap { return map?.kernelName }
        return paths.first(where: \.isPresent)?.device?.name
    }

    /// Paths that carry I/O: present and, with a map, in it and not failed there.
    var usable: [PathState] {
        paths.filter { state in
            guard state.isPresent, let device = state.device else { return false }
            guard expectsMap else { return true }
            guard let map, map.slaves.contains(device.name) else { return false }
            return state.multipathState?.isActive ?? true
        }
    }

    // MARK: - Classification

    var health: AttachmentHealth {
        var health = AttachmentHealth.healthy
        if !failedChecks.isEmpty { health = max(health, .unknown) }
        if usable.count < paths.count || stableNameLeads == false { health = max(health, .degraded) }
        if usable.isEmpty || (expectsMap && map == nil) { health = max(health, .missing) }
        return health
    }

    /// One line per difference from the handle.
    var problems: [String] {
        var lines = failedChecks
        for state in paths {
            if let line = problem(of: state) { lines.append(line) }
        }
        if let expected = handle.multipath {
            if let map {
                if map.kernelName != expected.device { lines.append("multipath map \(map.name) is \(map.kernelName) now, journaled \(expected.device)") }
            } else {
                let disks = paths.filter(\.isPresent).compactMap(\.device?.name)
                lines.append(
                    "multipath map \(expected.name) (\(expected.device)) is gone" + (disks.isEmpty ? "" : "; its disks \(disks.joined(separator: ", ")) are here"))
            }
        }
        if stableNameLeads == false, let name = handle.stableName {
            lines.append("stable name \(name) " + (stableNameTarget.map { "leads to \($0), not the volume's device" } ?? "is gone") + "; the device is there")
        }
        return lines
    }

    private func problem(of state: PathState) -> String? {
        guard state.path != nil else { return "path \(state.name): the journaled portal does not parse; cannot check it" }
        guard let session = state.session else { return "path \(state.name): no session" }
        guard session.isLoggedIn else { return "path \(state.name): session\(session.id) is \(session.state) (iscsid is reconnecting)" }
        guard state.scsiDirectory != nil else { return "path \(state.name): session\(session.id) has no LUN \(state.journaled.lun)" }
        guard let device = state.device else { return "path \(state.name): LUN \(state.journaled.lun) of session\(session.id) has no disk" }
        if state.foreign {
            return "path \(state.name): \(device.name) has WWID \(device.wwid?.sysfs ?? "none"), journaled \(handle.scsiWWN ?? "-"): another volume; left alone"
        }
        if let scsiState = state.scsiState, scsiState != "running" { return "path \(state.name): \(device.name) is \(scsiState)" }
        guard expectsMap, let map else { return nil }
        if !map.slaves.contains(device.name) { return "path \(state.name): \(device.name) is not in multipath map \(map.name)" }
        if let mp = state.multipathState, !mp.isActive {
            return "path \(state.name): \(device.name) is \(mp.mapState) in multipath map \(map.name) (checker: \(mp.checkerState))"
        }
        return nil
    }

    // MARK: - The attachment as found

    /// `volume` with the sessions, disks, map and device path found now; what is gone keeps its
    /// journaled facts, so detach still knows where to look.
    func refreshed(_ volume: AttachedVolume, paths configurationPaths: SystemPaths) -> AttachedVolume {
        var handle = self.handle
        handle.sessions = paths.map { state in
            var session = state.journaled
            guard state.isPresent || (state.session != nil && !state.foreign) else { return session }
            session.sid = state.session?.id ?? session.sid
            if let directory = state.scsiDirectory, !state.foreign {
                session.scsiAddress = String(directory.split(separator: "/").last ?? "")
                session.device = state.device?.name ?? session.device
            }
            return session
        }
        if let map { handle.multipath = KernelISCSIHandle.Map(name: map.name, device: map.kernelName, uuid: map.uuid) }
        var updated = volume
        updated.handle = .kernelISCSI(handle)
        if let deviceName { updated.devicePath = configurationPaths.deviceNode(deviceName) }
        updated.paths = volume.paths.map { path in
            guard let state = paths.first(where: { $0.journaled.portal == path.portal && $0.journaled.target == path.target && $0.journaled.lun == path.lun }) else {
                return path
            }
            var path = path
            path.state = usable.contains { $0.name == state.name } ? "active" : "lost"
            return path
        }
        return updated
    }
}
