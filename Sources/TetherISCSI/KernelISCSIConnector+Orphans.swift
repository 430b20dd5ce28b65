import TetherCore
import TetherMultipath

/// Kernel iSCSI state that looks like Tether's but that no journaled attachment describes. Only
/// what can be tied to Tether counts:
/// - a LUN (`iscsi_session`, named "<portal> <target> lun <n>") whose WWID has a udev map file
///   (only Tether writes /run/tether/by-wwid) naming a volume no attachment has;
/// - a session without any LUN (`iscsi_session`, "<portal> <target>") whose node record carries
///   both settings Tether gives its records, node.session.scan and node.startup manual;
/// - a multipath map without paths (`multipath_map`, its name) whose WWID's map file names a
///   volume no attachment has (a map with paths goes with its LUN's orphan);
/// - a map file (`map_file`, its path) for a volume no attachment has, with no disk or map of its WWID.
/// A session or LUN of a target no attachment names, without those marks, is never reported.
extension KernelISCSIConnector {
    /// The paths, WWIDs and volume ids the journal knows, to tell Tether's leftovers from its state.
    struct KnownState: Sendable {
        var volumeIDs: Set<String> = []
        var wwids: Set<String> = []
        var paths: [ISCSIPath] = []
        var targets: Set<String> = []

        /// A journaled portal that does not parse can match no session: leaving it out is right.
        init(_ known: [AttachedVolume]) {
            for volume in known {
                if let wwid = volume.wwid { wwids.insert(WWID(sysfs: wwid).udev) }
                for path in volume.paths {
                    if let portal = try? Portal(parsing: path.portal) { paths.append(ISCSIPath(portal: portal, iqn: path.target, lun: path.lun ?? -1)) }
                }
                guard let handle = volume.handle.kernelISCSI else { continue }
                volumeIDs.insert(handle.volumeID)
                if let wwid = handle.scsiWWN { wwids.insert(wwid) }
                targets.formUnion(handle.anyPortalOf)
                for session in handle.sessions {
                    if let portal = try? Portal(parsing: session.portal) { paths.append(ISCSIPath(portal: portal, iqn: session.target, lun: session.lun)) }
                }
            }
        }

        /// Whether a journaled attachment uses `session` (any LUN, or one LUN).
        func uses(_ session: KernelISCSISession, lun: Int? = nil) -> Bool {
            if targets.contains(session.targetName) { return true }
            return paths.contains { session.serves($0.portal, target: $0.iqn) && (lun == nil || $0.lun == lun || $0.lun == -1) }
        }
    }

    public func orphans(known: [AttachedVolume]) async throws -> [Orphan] {
        let state = KnownState(known)
        let mapFiles = try await tetherMapFiles()
        var orphans: [Orphan] = []
        var wwidsOnDisks: Set<String> = []
        for session in try await sysfs.sessions() {
            let devices = try await sysfs.scsiDevices(of: session)
            if devices.isEmpty {
                if !state.uses(session), try await hasTetherSettings(session) {
                    orphans.append(
                        Orphan(
                            kind: .iscsiSession, name: "\(portal(of: session)) \(session.targetName)",
                            detail: "session\(session.id) has no LUN; its node record has Tether's settings (node.session.scan and node.startup manual)"))
                }
                continue
            }
            for device in devices {
                guard let wwid = await sysfs.wwid(at: device.directory)?.udev else { continue }
                wwidsOnDisks.insert(wwid)
                guard let volumeID = mapFiles[wwid], !state.volumeIDs.contains(volumeID), !state.wwids.contains(wwid),
                    !state.uses(session, lun: device.address.lun)
                else { continue }
                let disk = try await sysfs.pathDevice(at: device.directory)?.name ?? "no disk"
                orphans.append(
                    Orphan(
                        kind: .iscsiSession, name: "\(portal(of: session)) \(session.targetName) lun \(device.address.lun)",
                        detail: "session\(session.id) LUN \(device.address.lun) (\(disk), WWID \(wwid)): the udev map file names volume \(volumeID), which no attachment has",
                        volumeID: volumeID))
            }
        }
        for map in try await multipath.maps() {
            guard let wwid = map.wwid?.udev else { continue }
            wwidsOnDisks.insert(wwid)
            guard map.slaves.isEmpty, let volumeID = mapFiles[wwid], !state.volumeIDs.contains(volumeID), !state.wwids.contains(wwid) else { continue }
            orphans.append(
                Orphan(
                    kind: .multipathMap, name: map.name, detail: "\(map.kernelName) has no path; the udev map file names volume \(volumeID), which no attachment has",
                    volumeID: volumeID))
        }
        for (wwid, volumeID) in mapFiles.sorted(by: { $0.key < $1.key })
        where !wwidsOnDisks.contains(wwid) && !state.volumeIDs.contains(volumeID) && !state.wwids.contains(wwid) {
            orphans.append(
                Orphan(
                    kind: .mapFile, name: "\(configuration.volumeMapDirectory)/\(wwid)",
                    detail: "names volume \(volumeID), which no attachment has; no disk of WWID \(wwid) is here", volumeID: volumeID))
        }
        return orphans
    }

    /// Removes an orphan `orphans(known:)` reported: a LUN as detach removes it (its map, its
    /// disk, the session when no other LUN uses it, the node record then), a session without
    /// LUNs and its node record, a map without paths and its map file, or a map file.
    public func remove(_ orphan: Orphan) async throws {
        switch orphan.kind {
        case .mapFile:
            guard orphan.name.hasPrefix(configuration.volumeMapDirectory + "/"), !orphan.name.dropFirst(configuration.volumeMapDirectory.count + 1).contains("/") else {
                throw TetherError(.invalidInput, "\(orphan.name) is not a map file of \(configuration.volumeMapDirectory)")
            }
            try await host.removeFile(orphan.name)
        case .multipathMap:
            // Only while it still has no path, as when it was reported.
            guard let map = try await multipath.maps().first(where: { $0.name == orphan.name }) else { return }
            guard map.slaves.isEmpty else {
                throw TetherError(.conflict, "multipath map \(map) has paths again", hint: "run tether reconcile again to see what it is now")
            }
            try await multipath.remove(map, force: false)
            await withdrawVolumeID(nil, wwid: map.wwid)
        case .iscsiSession:
            try await removeSession(named: orphan.name)
        default:
            throw TetherError(.unsupported, "\(orphan.kind.rawValue) \(orphan.name) is not the kernel iSCSI connector's to remove")
        }
    }

    /// Removes an `iscsi_session` orphan: "<portal> <target> lun <n>" as detach removes a LUN,
    /// "<portal> <target>" as a session without LUNs.
    private func removeSession(named name: String) async throws {
        let fields = name.split(separator: " ").map(String.init)
        let lun = fields.count == 4 && fields[2] == "lun" ? Int(fields[3]) : nil
        guard fields.count == 2 || lun != nil else {
            throw TetherError(.invalidInput, "\(name) names no portal and target (\"<portal> <target>[ lun <n>]\")")
        }
        let portal = try Portal(parsing: fields[0])
        if let lun {
            let volume = AttachedVolume.partial(
                protocolName: "iscsi", mode: .kernel, paths: [.init(portal: fields[0], target: fields[1], lun: lun, state: "orphan")], secretFiles: [])
            try await detach(volume, attachmentID: name, force: false)
        } else {
            // Its node record's settings are Tether's, but os-brick sets node.session.scan=manual
            // too and some distributions make node.startup manual by default: another tool's
            // session between its login and its LUN scan looks the same. Reported, never logged out.
            _ = portal
            throw TetherError(
                .unsupported, "session \(name) has no LUN and cannot be told from another tool's, so Tether does not log it out",
                hint: "if it is Tether's leftover: iscsiadm -m node -T \(fields[1]) -p \(fields[0]) -u")
        }
    }

    /// The iSCSI map files (udev WWID -> volume id); RBD's ("rbd:...") are another connector's.
    func tetherMapFiles() async throws -> [String: String] {
        var files: [String: String] = [:]
        for name in try await host.listDirectory(configuration.volumeMapDirectory) where !name.contains(":") {
            // A file removed since the listing is no orphan.
            guard let text = try? await host.read("\(configuration.volumeMapDirectory)/\(name)") else { continue }
            if let volumeID = StableNames.volumeID(inMapFile: text) { files[name] = volumeID }
        }
        return files
    }

    /// Whether the session's node record has both settings Tether gives the records it makes.
    func hasTetherSettings(_ session: KernelISCSISession) async throws -> Bool {
        let path = ISCSIPath(portal: Portal(host: session.address, port: session.port), iqn: session.targetName, lun: -1)
        guard let file = try await iscsiadm.recordFile(path) else { return false }
        let text = try await host.read(file)
        return ISCSINodeRecord.value(of: "node.session.scan", in: text) == "manual" && ISCSINodeRecord.value(of: "node.startup", in: text) == "manual"
    }

    /// The session's portal as connection_info spells it: IPv6 in brackets.
    func portal(of session: KernelISCSISession) -> String {
        Portal(host: session.address, port: session.port).description
    }
}
