import Foundation
import TetherCeph
import TetherCore

/// The reconciler's view of krbd mappings.
///
/// A journaled attachment is found in sysfs by its identity (fsid, pool, namespace, image,
/// snapshot), never by its device number alone: after a reboot the image may be rbd3, not rbd0,
/// and that is fine. It is `missing` when nothing maps it (the rbd driver not even loaded, after a
/// reboot), `degraded` when it is mapped but not as journaled (read-only state, the block device,
/// the stable names or the map file), `unknown` when sysfs cannot be read. Healing maps it again
/// exactly as attach does (cluster by fsid from the registry, key from its key file, the same map
/// options, map file, waiting for udev's names), or writes the map file again and has udev rerun
/// its rules. A read-only state that differs, or a second mapping, is reported, never changed.
extension KernelRBDConnector {
    public func inspect(_ volume: AttachedVolume, attachmentID: String, heal: Bool) async -> Inspection {
        guard let handle = volume.handle.kernelRBD else {
            return Inspection(health: .unknown, problems: ["the journal holds no krbd mapping for this attachment"], volume: volume)
        }
        let identity: Identity
        do {
            guard let found = try await self.identity(of: volume) else { throw TetherError(.internalError, "no identity") }
            identity = found
        } catch {
            return Inspection(health: .unknown, problems: [Self.line(error)], volume: volume)
        }
        let sysfs = KRBDSysfs(host: host)
        var look = await examine(identity, handle, sysfs: sysfs)
        var repairs: [String] = []
        var notHealed: [String] = []
        if heal, look.health == .missing || look.renameable {
            do {
                try await repair(look, identity, handle, volume: volume, attachmentID: attachmentID, sysfs: sysfs, repairs: &repairs)
            } catch {
                notHealed.append("not healed: \(Self.line(error))")
            }
            look = await examine(identity, handle, sysfs: sysfs)
        }
        var now = volume
        if let device = look.device {
            now = updated(volume, device: device)
            if heal, now.devicePath != volume.devicePath, repairs.isEmpty {
                repairs.append("journaled its device \(device.devicePath) (was \(volume.devicePath ?? "none"))")
            }
        }
        return Inspection(health: look.health, problems: look.problems + notHealed, repairs: repairs, volume: now)
    }

    /// What one look at sysfs and /dev found.
    struct Look {
        var health = AttachmentHealth.healthy
        var problems: [String] = []
        var device: KRBDSysfs.Device?
        /// Mapped, but udev's node or names (or the map file they come from) are not there.
        var renameable = false

        mutating func note(_ health: AttachmentHealth, _ problem: String) {
            self.health = max(self.health, health)
            problems.append(problem)
        }
    }

    func examine(_ identity: Identity, _ handle: KernelRBDHandle, sysfs: KRBDSysfs) async -> Look {
        var look = Look()
        let spec = identity.spec
        let clusterName = handle.cluster ?? spec.fsid
        guard await sysfs.isLoaded else {
            look.note(.missing, "\(spec.imageName) of cluster \(clusterName) is not mapped: the rbd driver is not loaded (\(KRBDSysfs.bus) is missing)")
            return look
        }
        let devices: [KRBDSysfs.Device]
        do {
            devices = try await self.devices(of: Identity(spec: spec, deviceID: nil, volumeID: identity.volumeID), sysfs: sysfs)
        } catch {
            look.note(.unknown, "cannot read \(KRBDSysfs.devices): \(Self.line(error))")
            return look
        }
        guard let device = devices.first(where: { $0.id == identity.deviceID }) ?? devices.first else {
            look.note(.missing, "\(spec.imageName) of cluster \(clusterName) is not mapped on this node" + (handle.device.map { " (it was \($0))" } ?? ""))
            return look
        }
        look.device = device
        for other in devices where other.id != device.id {
            look.note(
                .degraded,
                "\(spec.imageName) of cluster \(clusterName) is also mapped as \(other.devicePath); detach and attach again, or unmap it by hand "
                    + "(echo \(other.id) > \(KRBDSysfs.bus)/remove_single_major)")
        }
        guard await sysfs.blockDeviceReady(device) else {
            look.renameable = true
            look.note(.degraded, "\(spec.imageName) is mapped as \(device.blockName), but \(device.devicePath) is missing")
            return look
        }
        if let wanted = handle.readOnly, let actual = await sysfs.isReadOnly(device), wanted != actual {
            look.note(
                .degraded,
                "\(device.devicePath) is \(actual ? "read-only" : "read-write"), but the volume was attached \(wanted ? "read-only" : "read-write"); "
                    + "detach and attach it again")
        }
        if let mapDirectory, let volumeID = identity.volumeID, StableNames.isUsableVolumeID(volumeID) {
            let path = StableNames.mapFile(key: spec.mapKey, directory: mapDirectory)
            do {
                let contents = try await host.read(path)
                if contents != StableNames.mapFileContents(volumeID: volumeID) {
                    look.note(.degraded, "\(path) names another volume (\(contents.trimmingCharacters(in: .whitespacesAndNewlines))), not \(volumeID)")
                }
            } catch {
                look.renameable = true
                look.note(.degraded, "the map file \(path) is missing: udev cannot name \(device.devicePath) by volume")
            }
        }
        guard requireStableNames else { return look }
        let node = await host.resolvePath(device.devicePath) ?? device.devicePath
        let stableName =
            handle.stableName ?? StableNames.rbdPath(cluster: clusterName, pool: spec.pool, namespace: spec.namespace, image: spec.image, snapshot: spec.snapshot)
        let names = [stableName, handle.byTether]
        for name in names.compactMap({ $0 }) {
            guard await host.resolvePath(name) != node else { continue }
            look.renameable = true
            look.note(.degraded, "\(name) does not lead to \(device.devicePath)")
        }
        return look
    }

    /// Maps the image again (when nothing maps it), or writes its map file again and has udev
    /// rerun its rules (when names are missing). Appends what it did to `repairs`.
    func repair(
        _ look: Look, _ identity: Identity, _ handle: KernelRBDHandle, volume: AttachedVolume, attachmentID: String, sysfs: KRBDSysfs,
        repairs: inout [String]
    ) async throws {
        let registry = await registry()
        let target = try healTarget(identity, handle, volume: volume, attachmentID: attachmentID, registry: registry)
        let registered = Set(registry.clusters.map { $0.fsid.uuidString.lowercased() })
        if let device = look.device {
            try await writeMapFile(target, adopting: true)
            if await sysfs.blockDeviceReady(device) {
                try await host.writeAttribute("\(device.blockDirectory)/uevent", "change")
            }
            let ready = try await waitForMapping(target, sysfs: sysfs, ignoring: Set(try await sysfs.deviceIDs()), registered: registered)
            repairs.append("udev named \(ready.devicePath) again: \(links(of: target).joined(separator: ", "))")
            return
        }
        try await loadDriver(sysfs)
        let key = try registry.requireKey(for: target.user, in: target.cluster)
        let mapRequest = try KRBDMapRequest(
            cluster: target.cluster, user: target.user, spec: target.spec, readOnly: target.readOnly, messenger: messenger,
            connectTimeout: timeouts.connect, extraOptions: mapOptions)
        if let connections {
            // A heal never takes an image over: the journaled attach did not ask for it again.
            let claim = RBDClaim(force: false, breakLock: false, requestedBy: "reconciler")
            try await precheck(
                target, key: key, connections: connections, claim: claim, formerClient: [handle.clientID, handle.clientAddress].compactMap { $0 },
                metadata: ["attachment": "\(attachmentID)"])
        }
        try await writeMapFile(target, adopting: true)
        let device = try await mapNew(target, mapRequest, key: key, sysfs: sysfs, registered: registered)
        repairs.append(
            "mapped \(target.spec.imageName) of cluster \(target.cluster.name) again as \(device.devicePath)"
                + (handle.device.map { $0 == device.devicePath ? "" : " (was \($0))" } ?? "") + ", named \(links(of: target).joined(separator: ", "))")
    }

    /// The attach `Target` the journal describes, with the registry's cluster of the journaled fsid.
    /// - Throws: `not_found` when that cluster, or the journaled user, is no longer registered.
    func healTarget(_ identity: Identity, _ handle: KernelRBDHandle, volume: AttachedVolume, attachmentID: String, registry: CephRegistry) throws -> Target {
        guard let cluster = registry.clusters.first(where: { $0.fsid.uuidString.lowercased() == identity.spec.fsid }) else {
            throw Self.unregistered(name: handle.cluster, fsid: identity.spec.fsid, registry: registry)
        }
        let user: CephUser
        if let name = handle.user {
            guard let found = cluster.user(named: name) else {
                throw TetherError(
                    .notFound, "cluster \(cluster.name) no longer has the user \(name) this volume was mapped as",
                    hint: "add [user.\(name)] back to clusters.d/\(cluster.name).toml, or detach the volume")
            }
            user = found
        } else {
            guard let found = cluster.defaultUser else {
                throw TetherError(
                    .notFound, "the journal names no user for this mapping and cluster \(cluster.name) has no default user",
                    hint: "detach the volume and attach it again")
            }
            user = found
        }
        return Target(
            cluster: cluster, user: user, match: .clusterName, spec: identity.spec, volumeID: identity.volumeID ?? "", attachmentID: attachmentID,
            readOnly: handle.readOnly ?? false, discard: volume.qemuBlockdev["discard"]?.stringValue == "unmap")
    }

    /// `volume` with the facts of `device`, where the image is mapped now: the number, the node,
    /// the client; and the disk descriptions when they named the old node (no stable names).
    func updated(_ volume: AttachedVolume, device: KRBDSysfs.Device) -> AttachedVolume {
        guard var handle = volume.handle.kernelRBD else { return volume }
        var volume = volume
        let old = handle.device ?? volume.devicePath
        handle.deviceID = device.id
        handle.device = device.devicePath
        handle.clientID = device.clientID ?? handle.clientID
        handle.clientAddress = device.clientAddress ?? handle.clientAddress
        volume.handle = .kernelRBD(handle)
        volume.devicePath = device.devicePath
        if let old, old != device.devicePath {
            let escape = DiskDescription.xmlEscaped
            volume.diskXML = volume.diskXML.replacingOccurrences(of: "dev='\(escape(old))'", with: "dev='\(escape(device.devicePath))'")
            if case .object(var blockdev) = volume.qemuBlockdev, case .object(var file) = blockdev["file"], file["filename"]?.stringValue == old {
                file["filename"] = .string(device.devicePath)
                blockdev["file"] = .object(file)
                volume.qemuBlockdev = .object(blockdev)
            }
        }
        return volume
    }

    // MARK: - Orphans

    /// Mappings that look like Tether's (a map file names them, or a by-tether link leads to them)
    /// but no known attachment describes, and map files with neither a mapping nor an attachment.
    /// Another cluster's mapping of the same image, with no map file, is nobody's business here.
    public func orphans(known: [AttachedVolume]) async throws -> [Orphan] {
        var mine: Set<String> = []  // map keys of known attachments
        var anyCluster: [KRBDImageSpec] = []  // interrupted attaches whose cluster is not known: any fsid
        for volume in known {
            do {
                if let identity = try await identity(of: volume) { mine.insert(identity.spec.mapKey) }
            } catch {
                guard let handle = volume.handle.kernelRBD else { continue }
                anyCluster.append(KRBDImageSpec(fsid: "", pool: handle.pool, namespace: handle.namespace, image: handle.image, snapshot: handle.snapshot))
            }
        }
        func isKnown(_ spec: KRBDImageSpec) -> Bool {
            mine.contains(spec.mapKey) || anyCluster.contains { $0.sameImage(as: spec) }
        }
        let sysfs = KRBDSysfs(host: host)
        var devices: [KRBDSysfs.Device] = []
        if await sysfs.isLoaded {
            for id in try await sysfs.deviceIDs() {
                if let device = await sysfs.device(id) { devices.append(device) }
            }
        }
        var mapFiles: Set<String> = []
        if let mapDirectory {
            mapFiles = Set(try await host.listDirectory(mapDirectory).filter { $0.hasPrefix("rbd:") })
        }
        let byTether = try await byTetherLinks()
        var orphans: [Orphan] = []
        for device in devices where !isKnown(device.spec) {
            let file = StableNames.mapFileName(key: device.spec.mapKey)
            let node = await host.resolvePath(device.devicePath) ?? device.devicePath
            let names = byTether[node] ?? []
            guard mapFiles.contains(file) || !names.isEmpty else { continue }
            var detail = "\(device.spec.imageName) of cluster \(device.spec.fsid) as \(device.devicePath)"
            if mapFiles.contains(file), let mapDirectory { detail += "; map file \(mapDirectory)/\(file)" }
            if !names.isEmpty { detail += "; \(names.joined(separator: ", "))" }
            var volumeID = names.first.map { String($0.split(separator: "/").last ?? "") }
            if mapFiles.contains(file), let mapDirectory, let text = try? await host.read("\(mapDirectory)/\(file)") {
                volumeID = StableNames.volumeID(inMapFile: text) ?? volumeID  // unreadable: the by-tether name says it
            }
            orphans.append(
                Orphan(kind: .krbdMapping, name: "\(device.id):\(device.spec.mapKey)", detail: detail + "; no attachment describes it", volumeID: volumeID))
        }
        guard let mapDirectory else { return orphans }
        let mapped = Set(devices.map { StableNames.mapFileName(key: $0.spec.mapKey) })
        let knownFiles = Set(mine.map { StableNames.mapFileName(key: $0) })
        // A map file's name after its fsid: "%2Fvolumes%2Fvolume-1", to match attaches of any cluster.
        func imagePart<S: StringProtocol>(_ name: S) -> S.SubSequence { name.drop { $0 != "%" } }
        let anyClusterFiles = Set(anyCluster.map { String(imagePart(StableNames.mapFileName(key: $0.mapKey))) })
        for file in mapFiles.sorted() where !mapped.contains(file) && !knownFiles.contains(file) && !anyClusterFiles.contains(String(imagePart(file))) {
            let path = "\(mapDirectory)/\(file)"
            // Unreadable is no reason to keep it: its name says it is one of Tether's rbd map files.
            let contents = (try? await host.read(path))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "unreadable"
            orphans.append(
                Orphan(
                    kind: .mapFile, name: path, detail: "a krbd map file (\(contents)) of an image nothing maps and no attachment describes",
                    volumeID: StableNames.volumeID(inMapFile: contents)))
        }
        return orphans
    }

    /// Unmaps exactly the mapping an orphan names (its number, if it still maps the same image),
    /// without force, and deletes its map file; or deletes a stale map file that still maps nothing.
    public func remove(_ orphan: Orphan) async throws {
        let sysfs = KRBDSysfs(host: host)
        switch orphan.kind {
        case .krbdMapping:
            let parts = orphan.name.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let id = Int(parts[0]) else { throw TetherError.invalidInput("\(orphan.name) names no krbd mapping") }
            let key = String(parts[1])
            guard let device = await sysfs.device(id), device.spec.mapKey == key else {
                throw TetherError(.conflict, "\(KRBDSysfs.devices)/\(id) no longer maps \(key)", hint: "run tether reconcile again")
            }
            try await unmap(device, force: false, sysfs: sysfs)
            try await removeMapFile(device.spec, volumeID: nil)
        case .mapFile:
            guard let mapDirectory, orphan.name.hasPrefix("\(mapDirectory)/rbd:"), !orphan.name.dropFirst(mapDirectory.count + 1).contains("/") else {
                throw TetherError.invalidInput("\(orphan.name) is not a krbd map file of this node")
            }
            let name = String(orphan.name.dropFirst(mapDirectory.count + 1))
            if await sysfs.isLoaded {
                for id in try await sysfs.deviceIDs() {
                    if let device = await sysfs.device(id), StableNames.mapFileName(key: device.spec.mapKey) == name {
                        throw TetherError(.conflict, "\(orphan.name) is in use: \(device.devicePath) maps its image now", hint: "run tether reconcile again")
                    }
                }
            }
            try await host.removeFile(orphan.name)
        default:
            throw TetherError(.unsupported, "\(orphan.kind.rawValue) \(orphan.name) is not the krbd connector's to remove")
        }
    }

    /// Where each by-tether link leads: device path -> the links.
    func byTetherLinks() async throws -> [String: [String]] {
        var links: [String: [String]] = [:]
        for name in try await host.listDirectory(StableNames.byTetherDirectory) {
            let link = "\(StableNames.byTetherDirectory)/\(name)"
            if let target = await host.resolvePath(link), target.hasPrefix("/dev/rbd") { links[target, default: []].append(link) }
        }
        return links
    }

    // MARK: - Wording

    /// An error as one problem line: the message, then the hint.
    static func line(_ error: any Error) -> String {
        guard let error = error as? TetherError else { return "\(error)" }
        return error.hint.map { "\(error.message); \($0)" } ?? error.message
    }

    static func unregistered(name: String?, fsid: String, registry: CephRegistry) -> TetherError {
        let reused = name.flatMap(registry.cluster(named:)).map { "; the name \($0.name) now has fsid \($0.fsid.uuidString.lowercased())" } ?? ""
        return TetherError(
            .notFound, "cluster \(name ?? fsid) (fsid \(fsid.lowercased())) is no longer registered on this node\(reused)",
            hint: "register it again (tether cluster add, or clusters.d/\(name ?? "<name>").toml with its key file), or detach the volume")
    }

    /// Whether a lock owner as librbd names it (an entity `client.4123`, or an address, perhaps
    /// with a `v1:` prefix) is the client sysfs showed as `client4123` or `192.0.2.50:0/1000`.
    static func sameClient(_ owner: String, _ client: String) -> Bool {
        func plain(_ text: String) -> String {
            text.hasPrefix("client.") ? "client" + text.dropFirst("client.".count) : RBDClient.instance(text)
        }
        return !client.isEmpty && plain(owner) == plain(client)
    }

}
