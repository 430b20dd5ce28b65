import TetherCore
import TetherMultipath

extension KernelISCSIConnector {
    /// What a heal did and what it would not do.
    struct HealOutcome: Sendable {
        /// The handle with the sessions and disks the heal brought back.
        var handle: KernelISCSIHandle
        var repairs: [String] = []
        /// Problems the heal met, one line each (a path it may not or could not bring back).
        var refused: [String] = []
    }

    /// Brings back what `survey` found lost, with attach's steps and only on the journaled paths:
    /// the udev map file, each lost path's login (from its node record, or one made again when
    /// the path used no CHAP) and LUN scan, the map over the disks, the stable name.
    func repair(_ survey: ISCSISurvey, volume: AttachedVolume, attachmentID: String) async -> HealOutcome {
        var outcome = HealOutcome(handle: survey.handle)
        let wwid = survey.handle.scsiWWN.flatMap(WWID.init(udev:)) ?? volume.wwid.map(WWID.init(sysfs:))
        // After a reboot /run is empty: without the map file udev gives no by-tether name.
        if let wwid, let file = volumeMapFile(wwid), await !host.fileExists(file) {
            await publishVolumeID(survey.handle.volumeID, wwid: wwid)
            if await host.fileExists(file) { outcome.repairs.append("wrote the udev map file \(file)") }
        }
        var connected: [ConnectedPath] = []
        let lost = survey.paths.filter(\.isRepairable).compactMap(\.path)
        for (path, result) in await reconnect(lost, survey.handle, attachmentID: attachmentID) {
            switch result {
            case .success(let value):
                if let wwid, let found = value.device.wwid, !found.matches(wwid.sysfs) {
                    // Its disk, its login if the heal made it; never a map: the disk may have
                    // joined that other volume's.
                    await undo([value], map: nil, mayRemoveMap: false)
                    outcome.refused.append("path \(path): the LUN came back with WWID \(found), journaled \(wwid): another volume; logged out again")
                    continue
                }
                connected.append(value)
                outcome.repairs.append(repairLine(value))
            case .failure(let error):
                outcome.refused.append("path \(path) not healed: \(error.message)" + (error.hint.map { " (hint: \($0))" } ?? ""))
            }
        }
        outcome.handle.sessions = survey.handle.sessions.map { session in
            guard let value = connected.first(where: { $0.path.iqn == session.target && $0.path.lun == session.lun && "\($0.path.portal)" == session.portal }) else {
                return session
            }
            var updated = session
            updated.sid = value.session.id
            updated.scsiAddress = String(value.device.scsiDirectory.split(separator: "/").last ?? "")
            updated.device = value.device.name
            return updated
        }
        await rebuildMap(survey, connected: connected, wwid: wwid, &outcome)
        await renameDevice(&outcome)
        return outcome
    }

    private func repairLine(_ value: ConnectedPath) -> String {
        let how = value.steps.createdSession ? "logged in to \(value.path.portal) \(value.path.iqn)" : "scanned LUN \(value.path.lun) of \(value.session)"
        return how + (value.steps.createdNode ? " with a node record made again" : "") + ": \(value.device.name)"
    }

    /// Logs in to each lost path at once (`connect`, as attach does) and returns each outcome.
    /// A path whose node record is gone is not logged in when it used CHAP: the journal holds
    /// no password, and none is invented.
    func reconnect(_ paths: [ISCSIPath], _ handle: KernelISCSIHandle, attachmentID: String) async -> [(ISCSIPath, Result<ConnectedPath, TetherError>)] {
        let plan = healPlan(handle, attachmentID: attachmentID)
        return await withTaskGroup(of: (Int, Result<ConnectedPath, TetherError>).self) { group in
            for (index, path) in paths.enumerated() {
                group.addTask {
                    do {
                        if handle.chap == true, try await !iscsiadm.nodeExists(path) {
                            throw TetherError(
                                .iscsiAuthFailed, "its node record is gone and it logged in with CHAP, whose password the journal does not keep",
                                hint: "attach the volume again with its connection_info (tether attach), or detach it")
                        }
                        return (index, .success(try await connect(path, plan)))
                    } catch {
                        return (index, .failure(TetherError(wrapping: error, path: path)))
                    }
                }
            }
            var results: [(Int, Result<ConnectedPath, TetherError>)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map { (paths[$0.0], $0.1) }
        }
    }

    /// A plan for `connect` that sets no CHAP: an existing node record keeps its own settings and
    /// password, and one made again has none.
    func healPlan(_ handle: KernelISCSIHandle, attachmentID: String) -> Plan {
        let request = AttachRequest(
            attachmentID: attachmentID, volumeID: handle.volumeID, connectionInfo: ConnectionInfo(driverVolumeType: "iscsi", data: [:]), mode: .kernel,
            accessMode: .readWrite, connector: ConnectorProperties())
        return Plan(request: request, chap: nil, mutualCHAP: nil, readOnly: false, expectedWWID: nil)
    }

    /// Has multipathd take every present disk of the volume into its map again (or make the map
    /// after a reboot), as attach does; without a map, has udev look at the new disks again.
    private func rebuildMap(_ survey: ISCSISurvey, connected: [ConnectedPath], wwid: WWID?, _ outcome: inout HealOutcome) async {
        guard let expected = survey.handle.multipath else {
            await retriggerUdev(connected.map { "\($0.device.blockDirectory)/uevent" })
            return
        }
        let present = survey.paths.filter { $0.isPresent }.compactMap(\.device) + connected.map(\.device)
        let missing = present.filter { device in !(survey.map?.slaves.contains(device.name) ?? false) }
        guard !missing.isEmpty || survey.map == nil, !present.isEmpty else { return }
        guard let wwid else {
            outcome.refused.append("multipath map \(expected.name) not rebuilt: the journal has no WWID for it")
            return
        }
        do {
            let map = try await multipath.assemble(present, wwid: wwid)
            outcome.handle.multipath = KernelISCSIHandle.Map(name: map.name, device: map.kernelName, uuid: map.uuid)
            let added = missing.map(\.name).filter { map.slaves.contains($0) }
            outcome.repairs.append(
                survey.map == nil
                    ? "multipathd made map \(map.name) (\(map.kernelName)) over \(map.slaves.sorted().joined(separator: ", "))"
                    : "multipathd took \(added.joined(separator: ", ")) back into map \(map.name) (\(map.kernelName))")
        } catch {
            outcome.refused.append("multipath map \(expected.name) not rebuilt: \(error)")
        }
    }

    /// Has udev name the volume's device again when its stable name does not lead there, and
    /// waits a short while for it.
    private func renameDevice(_ outcome: inout HealOutcome) async {
        guard let survey = try? await self.survey(outcome.handle) else { return }  // the caller surveys again and reports the failure
        guard survey.stableNameLeads == false, let name = survey.handle.stableName, let device = survey.deviceName else { return }
        let disk = survey.paths.compactMap(\.device).first { $0.name == device }
        let uevent = survey.expectsMap ? "\(configuration.paths.block)/\(device)/uevent" : disk.map { "\($0.blockDirectory)/uevent" }
        if let uevent { await retriggerUdev([uevent]) }
        let node = configuration.paths.deviceNode(device)
        if await stableName(for: [name], of: node) == name {
            outcome.repairs.append("udev named \(node) \(name) again")
        }
    }
}
