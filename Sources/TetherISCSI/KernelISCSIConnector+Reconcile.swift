import TetherCore
import TetherMultipath

/// The reconciler's look at a kernel iSCSI attachment: each journaled path (session logged in,
/// the LUN's disk running with the journaled WWID), the multipath map (there, holding the paths,
/// multipathd calling them active) and the stable name (leading to the volume's device).
///
/// - healthy: all of it is there.
/// - degraded: usable, but a path is lost or not in the map, or the stable name is gone.
/// - missing: no path carries I/O, or the map the volume is used through is gone.
/// - unknown: a check could not be made (multipathd or sysfs did not answer).
///
/// A heal (see `+Heal`) logs lost paths back in from their node records, scans the LUN again,
/// has multipathd take the disks back into the map and udev name the device again.
extension KernelISCSIConnector {
    public func inspect(_ volume: AttachedVolume, attachmentID: String, heal: Bool) async -> Inspection {
        guard volume.mode == .kernel, let handle = volume.handle.kernelISCSI, !handle.sessions.isEmpty else {
            return Inspection(health: .unknown, problems: ["the journal names no kernel iSCSI session for this attachment; nothing to compare"], volume: volume)
        }
        var current = volume
        var repairs: [String] = []
        var refused: [String] = []
        do {
            var survey = try await self.survey(handle)
            if heal, survey.health != .healthy {
                let outcome = await repair(survey, volume: volume, attachmentID: attachmentID)
                repairs = outcome.repairs
                refused = outcome.refused
                survey = try await self.survey(outcome.handle)
            }
            current = survey.refreshed(volume, paths: configuration.paths)
            return Inspection(health: survey.health, problems: survey.problems + refused, repairs: repairs, volume: current)
        } catch {
            return Inspection(health: .unknown, problems: ["cannot check: \(error)"] + refused, repairs: repairs, volume: current)
        }
    }

    /// Reads what of `handle` is on the host now.
    /// - Throws: when sysfs cannot be listed; a check of one part that fails is in `failedChecks`.
    func survey(_ handle: KernelISCSIHandle) async throws -> ISCSISurvey {
        let sessions = try await sysfs.sessions()
        var states: [ISCSISurvey.PathState] = []
        for journaled in handle.sessions {
            states.append(try await pathState(journaled, sessions: sessions, wwid: handle.scsiWWN.flatMap(WWID.init(udev:))))
        }
        var survey = ISCSISurvey(handle: handle, paths: states)
        if let expected = handle.multipath {
            survey.map = try await multipath.maps().first { $0.uuid == expected.uuid }
            if survey.map != nil {
                do {
                    let known = try await multipath.pathStates()
                    for index in survey.paths.indices {
                        survey.paths[index].multipathState = known.first { $0.device == survey.paths[index].device?.name }
                    }
                } catch {
                    survey.failedChecks.append("cannot ask multipathd about the paths of \(expected.name): \(error)")
                }
            }
        }
        await checkStableName(&survey)
        return survey
    }

    /// One journaled path: its session, the LUN's SCSI device and disk, and whether the disk is
    /// still the journaled LUN.
    func pathState(_ journaled: KernelISCSIHandle.Session, sessions: [KernelISCSISession], wwid: WWID?) async throws -> ISCSISurvey.PathState {
        guard let portal = try? Portal(parsing: journaled.portal) else {
            // Nothing on the host can be matched to a portal that does not parse; the survey says so.
            return ISCSISurvey.PathState(journaled: journaled)
        }
        let path = ISCSIPath(portal: portal, iqn: journaled.target, lun: journaled.lun)
        var state = ISCSISurvey.PathState(journaled: journaled, path: path)
        guard let session = sessions.first(where: { $0.serves(portal, target: journaled.target) }) else { return state }
        state.session = session
        guard let directory = try await sysfs.scsiDirectory(of: session, lun: journaled.lun) else { return state }
        state.scsiDirectory = directory
        guard let device = try await sysfs.pathDevice(at: directory) else { return state }
        state.device = device
        if let wwid, let found = device.wwid, !found.matches(wwid.sysfs) { state.foreign = true }
        // Every SCSI device has `state` in sysfs; a tree without it (a test's) says nothing.
        state.scsiState = try? await host.read("\(directory)/state").trimmedLine
        return state
    }

    /// Whether the handle's stable name leads to the volume's device now. A stable name that is
    /// the device node itself (no udev names) always does.
    func checkStableName(_ survey: inout ISCSISurvey) async {
        guard let name = survey.handle.stableName, let device = survey.deviceName else { return }
        let node = configuration.paths.deviceNode(device)
        guard configuration.paths.kernelName(ofDeviceNode: name) == nil else { return }
        let target = await host.resolvePath(name)
        let expected = await host.resolvePath(node)
        survey.stableNameLeads = target != nil && target == expected
        survey.stableNameTarget = target
    }
}
