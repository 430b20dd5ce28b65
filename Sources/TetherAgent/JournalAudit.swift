import Foundation
import TetherAPI
import TetherCore

/// The doctor's `journal` check: the journal's attachments against the host.
///
/// This is a seam on purpose. `HostJournalAudit` is a first version that reads sysfs and /dev for
/// what each kernel-mode attachment's handle names. The reconciler (`POST /v1/reconcile` with
/// `{"heal": false, "clean": false}`, per-attachment healthy / degraded / missing / unknown) is the
/// one place meant to compare the journal with reality (STYLE §10); once it exists, an
/// implementation that runs it without healing replaces this one in `Agent.run`, mapping healthy
/// to ok, degraded and missing to failed, unknown to warning.
protocol JournalAudit: Sendable {
    /// One finding (check `journal`) per journaled attachment, or one saying there are none.
    func audit() async -> [DoctorFinding]
}

/// Reads, for each journaled attachment, what its handle says should exist:
/// - attaching / detaching: an operation in progress or cut off (warning);
/// - a local attachment (Cinder) with a step Cinder is still to be told, and its error (warning);
/// - attached, network mode: nothing on this host to look at (ok);
/// - attached, kernel mode: the device path exists; iSCSI: each session is LOGGED_IN, each SCSI
///   disk is `running` and, with a multipath map, still one of its slaves; krbd: the mapping
///   (`/sys/bus/rbd/devices/<id>`) is still the journaled pool and image. Anything missing fails.
struct HostJournalAudit: JournalAudit {
    let journal: Journal
    let host: any TetherCore.Host
    let root: String

    var sysfs: String {
        let base = root == "/" ? "" : (root.hasSuffix("/") ? String(root.dropLast()) : root)
        return base + "/sys"
    }

    func audit() async -> [DoctorFinding] {
        let records: [AttachmentRecord]
        do {
            records = try await journal.attachments()
        } catch {
            return [DoctorFinding(.journal, .failed, "cannot read the journal: \(error)", hint: "see tetherd's log")]
        }
        var findings: [DoctorFinding] = []
        for record in records {
            findings.append(await audit(record))
        }
        for row in (try? await journal.unreadableAttachments()) ?? [] {  // read just above: the journal answers
            findings.append(
                DoctorFinding(
                    .journal, .failed, "attachment \(row.id) of volume \(row.volumeID) does not read back: \(row.error)",
                    hint: "was the journal written by a newer tetherd? run that version, or detach the volume by hand and delete the row"))
        }
        findings += await pendingCinderSteps()
        return findings.isEmpty ? [DoctorFinding(.journal, .ok, "no attachment is journaled")] : findings
    }

    /// Local attachments whose Cinder side is not finished: tetherd retries them every
    /// `[cinder] retry_interval`; one that carries an error warns.
    func pendingCinderSteps() async -> [DoctorFinding] {
        let records: [CinderAttachmentRecord]
        do {
            records = try await journal.cinderAttachments()
        } catch {
            return [DoctorFinding(.journal, .failed, "cannot read the local attachments from the journal: \(error)", hint: "see tetherd's log")]
        }
        return records.compactMap { record in
            guard let error = record.pendingError else { return nil }
            return DoctorFinding(
                .journal, .warning, "local attachment \(record.volumeID) (\(record.state)): Cinder is still to be told: \(error)",
                hint: "tetherd retries every [cinder] retry_interval; see tether local-list, and check that Cinder is reachable")
        }
    }

    func audit(_ record: AttachmentRecord) async -> DoctorFinding {
        let name = "\(record.volumeID) (attachment \(record.id), \(record.protocolName) \(record.mode))"
        switch record.state {
        case .attached:
            break
        case .attaching, .detaching:
            let verb = record.state == .attaching ? "attach" : "detach"
            return DoctorFinding(
                .journal, .warning, "\(name): \(verb) in progress since \(record.updatedAt), or cut off\(record.lastError.map { ": \($0)" } ?? " by a crash")",
                hint: "wait for it; if it stays, tether reconcile retries it (tether detach \(record.volumeID) --force undoes it)")
        }
        guard let volume = record.result else {
            return DoctorFinding(.journal, .failed, "\(name) is attached but its result is not journaled", hint: "tether detach \(record.volumeID) --force, then attach again")
        }
        guard volume.mode == .kernel else { return DoctorFinding(.journal, .ok, "\(name): network mode, QEMU connects itself; nothing on this host to check") }
        var problems: [String] = []
        if let device = volume.devicePath, await host.resolvePath(device) == nil {
            problems.append("\(device) is gone")
        }
        switch volume.handle {
        case .kernelISCSI(let handle): problems += await iscsiProblems(handle)
        case .kernelRBD(let handle): problems += await rbdProblems(handle)
        case .none, .networkRBD: break
        }
        guard problems.isEmpty else {
            return DoctorFinding(
                .journal, .failed, "\(name): \(problems.joined(separator: "; "))",
                hint: "see tether show \(record.volumeID); for a lost path check the portal and the network (iscsiadm -m session, multipath -ll); for a device that is gone detach with tether detach \(record.volumeID) --force and attach again")
        }
        return DoctorFinding(.journal, .ok, "\(name): \(volume.devicePath ?? "device") present\(volume.protocolName == "iscsi" ? ", every path logged in" : "")")
    }

    /// Sessions not LOGGED_IN, disks gone or not running, and disks that left the multipath map.
    func iscsiProblems(_ handle: KernelISCSIHandle) async -> [String] {
        var problems: [String] = []
        for session in handle.sessions {
            guard let sid = session.sid else { continue }
            guard let state = try? await host.read("\(sysfs)/class/iscsi_session/session\(sid)/state").trimmedLine else {
                problems.append("path \(session.portal) lost: iSCSI session \(sid) is gone")
                continue
            }
            if state != "LOGGED_IN" { problems.append("path \(session.portal) lost: iSCSI session \(sid) is \(state)") }
        }
        let devices = handle.sessions.compactMap(\.device)
        for device in devices {
            guard await host.resolvePath("\(sysfs)/block/\(device)") != nil else {
                problems.append("disk \(device) is gone")
                continue
            }
            if let state = try? await host.read("\(sysfs)/block/\(device)/device/state").trimmedLine, state != "running" {
                problems.append("disk \(device) is \(state)")
            }
        }
        if let map = handle.multipath?.device {
            if await host.resolvePath("\(sysfs)/block/\(map)") == nil {
                problems.append("multipath map \(map) is gone")
            } else {
                let slaves = Set((try? await host.listDirectory("\(sysfs)/block/\(map)/slaves")) ?? [])
                for device in devices where !slaves.contains(device) { problems.append("disk \(device) left multipath map \(map)") }
            }
        }
        return problems
    }

    /// The krbd mapping gone, or now another image.
    func rbdProblems(_ handle: KernelRBDHandle) async -> [String] {
        guard let id = handle.deviceID else { return [] }
        let directory = "\(sysfs)/bus/rbd/devices/\(id)"
        guard let pool = try? await host.read("\(directory)/pool").trimmedLine, let image = try? await host.read("\(directory)/name").trimmedLine else {
            return ["krbd mapping \(id) (rbd\(id)) is gone: the image was unmapped"]
        }
        let wanted = "\(handle.pool)/\(handle.image)"
        return "\(pool)/\(image)" == wanted ? [] : ["krbd mapping \(id) now maps \(pool)/\(image), not \(wanted)"]
    }
}
