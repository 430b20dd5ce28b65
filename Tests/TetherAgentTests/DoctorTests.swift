import Foundation
import TetherAPI
@testable import TetherAgent
import TetherCeph
import TetherCore
import TetherFakes
import Testing

/// The doctor on a FakeHost node that uses every feature: whole, each check holds; with one thing
/// broken, that check (and only that one) fails or warns.
@Suite struct DoctorTests {
    static let initiator = "iqn.2004-10.org.tether:node"
    static let fsid = UUID(uuidString: "0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c")!
    static let now = Date(timeIntervalSince1970: 1_796_000_000)

    /// A monitor clock `offset` seconds off, or failing.
    struct FakeMonitorClock: MonitorClock {
        var offset: TimeInterval = 0
        var failure: TetherError?
        func time(of cluster: CephCluster, user: CephUser, key: Secret) async throws -> Date {
            if let failure { throw failure }
            return DoctorTests.now.addingTimeInterval(offset)
        }
    }

    /// The repository's copy of a udev rules file.
    static func repositoryRules(_ name: String, filePath: String = #filePath) throws -> String {
        var directory = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("udev/\(name)")
            if FileManager.default.fileExists(atPath: candidate.path) { return try String(contentsOf: candidate, encoding: .utf8) }
            directory.deleteLastPathComponent()
        }
        throw TetherError(.notFound, "no udev/\(name) above \(filePath)")
    }

    static let multipathConfig = """
        defaults {
        \tfind_multipaths "on"
        \tuser_friendly_names "no"
        }
        blacklist {
        \tdevnode "^(ram|zram|loop|fd|md|dm-|sr|scd|st|dcssblk)[0-9]"
        \tdevnode "^(td|hd|vd)[a-z]"
        \tdevice {
        \t\tvendor "SGI"
        \t}
        }
        blacklist_exceptions {
        }
        """

    /// Everything a node using kernel iSCSI with multipath, krbd, libvirt and one Ceph cluster
    /// needs, with one multipath iSCSI attachment and one krbd attachment journaled.
    struct Node {
        var configuration = AgentConfiguration()
        let host = FakeHost()
        let journal: Journal
        var monitorClock = FakeMonitorClock()
        var libvirtProblem: String?
        var registry: CephRegistry

        init() async throws {
            configuration.localAttachMode = .kernel
            configuration.multipath = true
            configuration.libvirtURI = "qemu:///system"
            configuration.socketPath = "/run/tether/tetherd.sock"
            journal = try Journal()
            let user = try CephUser(name: "cinder", keyFile: "/etc/tether/keys/ceph-a.client.cinder.key")
            let cluster = try CephCluster(
                name: "ceph-a", fsid: DoctorTests.fsid, monitors: [try CephMonitor(v1: Portal(host: "192.0.2.21", port: 6789))], users: [user])
            registry = try CephRegistry(clusters: [cluster], keys: [CephUserID(cluster: "ceph-a", user: "cinder"): Secret("AQAA8VNlAAAAABAAAAsWISw3Qk1YY255hI+apQ==")])

            for module in ["iscsi_tcp", "dm_multipath", "rbd"] { host.makeDirectory("/sys/module/\(module)") }
            host.setFile("/run/iscsid.pid", "321\n")
            host.setFile("/proc/321/comm", "iscsid\n")
            host.setFile("/etc/iscsi/initiatorname.iscsi", "## generated\nInitiatorName=\(DoctorTests.initiator)\n")
            host.script("multipathd", exit: 0, stdout: DoctorTests.multipathConfig)
            host.setFile("/run/udev/control", "")
            host.setFile("/etc/udev/rules.d/60-tether.rules", try DoctorTests.repositoryRules("60-tether.rules"))
            host.setFile("/usr/lib/udev/rules.d/60-tether-rbd.rules", try DoctorTests.repositoryRules("60-tether-rbd.rules"))
            host.setFile("/usr/bin/tether", "", mode: 0o755)
            host.makeDirectory("/etc/ceph")
            host.setFile("/etc/ceph/ceph-a.conf", "[global]\n")
            host.setFile("/etc/ceph/ceph-a.client.cinder.keyring", "[client.cinder]\n", mode: 0o600)
            host.setFile("/etc/tether/keys/ceph-a.client.cinder.key", "AQAA\n", mode: 0o600)
            host.setStatus(configuration.socketPath, FileStatus(kind: .socket, mode: 0o660, owner: 0, group: 0))

            // vol-mp: two sessions, two disks under dm-0.
            for session in [1, 2] { host.setFile("/sys/class/iscsi_session/session\(session)/state", "LOGGED_IN\n") }
            for disk in ["sdb", "sdc"] {
                host.setFile("/sys/block/\(disk)/device/state", "running\n")
                host.makeDirectory("/sys/block/dm-0/slaves/\(disk)")
            }
            host.setFile("/dev/dm-0", "")
            try await journalAttachment(
                id: "att-mp", volume: "vol-mp", protocolName: "iscsi", device: "/dev/dm-0",
                paths: [.init(portal: "192.0.2.10:3260", target: "iqn.t:1", lun: 1, state: "active"), .init(portal: "192.0.2.11:3260", target: "iqn.t:1", lun: 1, state: "active")],
                details: ["volume_id": "vol-mp", "sessions": [1, 2], "devices": ["sdb", "sdc"], "multipath": ["name": "3600", "device": "dm-0", "uuid": "mpath-3600"]])
            // vol-rbd: krbd mapping 0.
            host.setFile("/sys/bus/rbd/devices/0/pool", "rbd\n")
            host.setFile("/sys/bus/rbd/devices/0/name", "img\n")
            host.setFile("/dev/rbd0", "")
            try await journalAttachment(
                id: "att-rbd", volume: "vol-rbd", protocolName: "rbd", device: "/dev/rbd0",
                paths: [.init(portal: "192.0.2.21:6789", target: "ceph-a:rbd/img", lun: nil, state: "mapped")],
                details: ["volume_id": "vol-rbd", "device_id": 0, "pool": "rbd", "namespace": "", "image": "img", "snapshot": "-", "cluster": "ceph-a"])
        }

        func journalAttachment(
            id: String, volume: String, protocolName: String, device: String, paths: [AttachedVolume.Path], details: JSONValue, finish: Bool = true
        ) async throws {
            let stamp = Journal.now()
            try await journal.beginAttach(
                AttachmentRecord(
                    id: id, volumeID: volume, targetKey: "\(protocolName):\(volume)", protocolName: protocolName, mode: .kernel, state: .attaching,
                    connectionInfo: ConnectionInfo(driverVolumeType: protocolName, data: [:]), result: nil, createdAt: stamp, updatedAt: stamp))
            guard finish else { return }
            let plain = AttachedVolume(
                protocolName: protocolName, mode: .kernel, paths: paths, wwid: nil, sizeBytes: 1 << 20, blockSize: 512, devicePath: device, diskXML: "",
                qemuBlockdev: [:], qemuObjects: [], secretFiles: [])
            // The facts as a result journaled before typed handles had them: read through the
            // same decoding, so the handle is what the connector would have journaled.
            var object = try #require(try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(plain)).objectValue)
            object["handle"] = nil
            object["details"] = details
            let attached = try JSONDecoder().decode(AttachedVolume.self, from: JSONEncoder().encode(JSONValue.object(object)))
            try await journal.finishAttach(id: id, result: attached)
        }

        func report() async -> DoctorReport {
            let registry = registry
            let problem = libvirtProblem
            return await Doctor(
                configuration: configuration, host: host, node: ConnectorProperties(initiator: DoctorTests.initiator),
                access: APIAccess(group: 0, groupName: "root"), registry: { registry }, journal: journal, monitorClock: monitorClock,
                libvirtProbe: { _ in problem }, now: { DoctorTests.now }
            ).run()
        }
    }

    @Test func aWholeNodePassesEveryCheck() async throws {
        let report = try await Node().report()
        let notOK = report.findings.filter { $0.status != .ok }
        #expect(notOK == [], "\(notOK)")
        #expect(report.ok)
        #expect(Set(report.findings.map(\.check)) == Set(DoctorCheck.agentChecks))
        // The order of DoctorCheck.agentChecks, each check's findings together.
        var order: [DoctorCheck] = []
        for finding in report.findings where order.last != finding.check { order.append(finding.check) }
        #expect(order == DoctorCheck.agentChecks)
        #expect(report.findings.filter { $0.check == .kernelModules }.count == 3)
        #expect(report.findings.filter { $0.check == .journal }.count == 2)
        #expect(report.findings.allSatisfy { $0.hint == nil })
    }

    /// One thing broken on the whole node: that check answers `status`, every other check holds.
    struct Breakage: Sendable, CustomTestStringConvertible {
        var name: String
        var check: DoctorCheck
        var status: DoctorFinding.Status = .failed
        /// Words the finding's message must contain.
        var says: String
        var apply: @Sendable (inout Node) async throws -> Void

        var testDescription: String { name }
    }

    static let breakages: [Breakage] = [
        Breakage(name: "rbd module missing", check: .kernelModules, says: "rbd") { node in
            node.host.removeTree("/sys/module/rbd")
        },
        Breakage(name: "iscsid stopped", check: .iscsid, says: "not running") { node in
            node.host.removeTree("/proc")
            try await node.host.removeFile("/run/iscsid.pid")
        },
        Breakage(name: "initiator name invalid", check: .initiatorName, says: "initiatorname.iscsi") { node in
            node.host.setFile("/etc/iscsi/initiatorname.iscsi", "InitiatorName=compute 1\n")
        },
        Breakage(name: "initiator name differs from the connector's", check: .initiatorName, says: "the agent reports") { node in
            node.host.setFile("/etc/iscsi/initiatorname.iscsi", "InitiatorName=iqn.2004-10.org.tether:other\n")
        },
        Breakage(name: "initiator file missing", check: .initiatorName, says: "cannot be read") { node in
            try await node.host.removeFile("/etc/iscsi/initiatorname.iscsi")
        },
        Breakage(name: "multipathd down", check: .multipathd, says: "does not answer") { node in
            node.host.script("multipathd", exit: 1, stderr: "error connecting to socket")
        },
        Breakage(name: "multipath blacklists sd", check: .multipathd, says: "blacklist") { node in
            node.host.script("multipathd", exit: 0, stdout: "defaults {\n\tfind_multipaths \"strict\"\n}\nblacklist {\n\tdevnode \"^sd[a-z]\"\n}\n")
        },
        Breakage(name: "udev rules missing", check: .udevRules, says: "60-tether.rules is not installed") { node in
            try await node.host.removeFile("/etc/udev/rules.d/60-tether.rules")
        },
        Breakage(name: "udev rules of another version", check: .udevRules, status: .warning, says: "differs") { node in
            node.host.setFile("/usr/lib/udev/rules.d/60-tether-rbd.rules", "# old\n")
        },
        Breakage(name: "udevd not running", check: .udevRules, says: "udevd") { node in
            try await node.host.removeFile("/run/udev/control")
        },
        Breakage(name: "tether missing for the rbd rule", check: .udevRules, says: "/usr/bin/tether") { node in
            try await node.host.removeFile("/usr/bin/tether")
        },
        Breakage(name: "keyring readable by others", check: .cephPermissions, says: "0644") { node in
            node.host.setFile("/etc/ceph/ceph-a.client.cinder.keyring", "[client.cinder]\n", mode: 0o644)
        },
        Breakage(name: "key file owned by someone else", check: .cephPermissions, says: "owned by uid 1000") { node in
            node.host.setStatus("/etc/tether/keys/ceph-a.client.cinder.key", FileStatus(kind: .regular, mode: 0o600, owner: 1000))
        },
        Breakage(name: "ceph directory writable by all", check: .cephPermissions, says: "written by others") { node in
            node.host.setStatus("/etc/ceph", FileStatus(kind: .directory, mode: 0o777))
        },
        Breakage(name: "conf missing", check: .cephPermissions, says: "ceph-a.conf") { node in
            try await node.host.removeFile("/etc/ceph/ceph-a.conf")
        },
        Breakage(name: "libvirt down", check: .libvirt, says: "does not answer") { node in
            node.libvirtProblem = "Failed to connect socket"
        },
        Breakage(name: "socket mode", check: .socket, says: "0666") { node in
            node.host.setStatus(node.configuration.socketPath, FileStatus(kind: .socket, mode: 0o666))
        },
        Breakage(name: "socket group", check: .socket, says: "gid 100") { node in
            node.host.setStatus(node.configuration.socketPath, FileStatus(kind: .socket, mode: 0o660, group: 100))
        },
        Breakage(name: "socket gone", check: .socket, says: "missing") { node in
            node.configuration.socketPath = "/run/tether/gone.sock"
        },
        Breakage(name: "clock ahead of the monitors", check: .clockSkew, status: .warning, says: "-2.000 s") { node in
            node.monitorClock.offset = -2
        },
        Breakage(name: "monitors unreachable", check: .clockSkew, says: "cannot ask the monitors") { node in
            node.monitorClock.failure = TetherError(.cephUnreachable, "no monitor answered")
        },
        Breakage(name: "iSCSI path lost", check: .journal, says: "path 192.0.2.11:3260 lost: iSCSI session 2 is FAILED") { node in
            node.host.setFile("/sys/class/iscsi_session/session2/state", "FAILED\n")
        },
        Breakage(name: "session gone", check: .journal, says: "session 1 is gone") { node in
            node.host.removeTree("/sys/class/iscsi_session/session1")
        },
        Breakage(name: "disk offline", check: .journal, says: "disk sdc is transport-offline") { node in
            node.host.setFile("/sys/block/sdc/device/state", "transport-offline\n")
        },
        Breakage(name: "disk left the map", check: .journal, says: "disk sdb left multipath map dm-0") { node in
            node.host.removeTree("/sys/block/dm-0/slaves/sdb")
        },
        Breakage(name: "krbd image unmapped", check: .journal, says: "krbd mapping 0 (rbd0) is gone") { node in
            node.host.removeTree("/sys/bus/rbd/devices/0")
            try await node.host.removeFile("/dev/rbd0")
        },
        Breakage(name: "device gone", check: .journal, says: "/dev/dm-0 is gone") { node in
            try await node.host.removeFile("/dev/dm-0")
        },
        Breakage(name: "Cinder still to be told", check: .journal, status: .warning, says: "Cinder is still to be told: cinder.unreachable") { node in
            let stamp = Journal.now()
            try await node.journal.saveCinderAttachment(
                CinderAttachmentRecord(
                    volumeID: "vol-c", flow: .attachments, microversion: "3.70", state: .rollingBack, cinderAttachmentID: "c1", localAttachmentID: nil,
                    mode: .kernel, readOnly: false, connector: "{}", pendingError: "cinder.unreachable: no answer", createdAt: stamp, updatedAt: stamp))
        },
        Breakage(name: "attach cut off", check: .journal, status: .warning, says: "attach in progress") { node in
            try await node.journalAttachment(id: "att-cut", volume: "vol-cut", protocolName: "iscsi", device: "", paths: [], details: [:], finish: false)
        },
    ]

    @Test(arguments: breakages)
    func oneBrokenThingIsFoundByItsCheck(_ breakage: Breakage) async throws {
        var node = try await Node()
        try await breakage.apply(&node)
        let report = await node.report()
        let notOK = report.findings.filter { $0.status != .ok }
        #expect(notOK.count >= 1)
        for finding in notOK {
            #expect(finding.check == breakage.check, "\(finding)")
            #expect(finding.status == breakage.status, "\(finding)")
            #expect(finding.message.contains(breakage.says), "\(finding.message)")
            #expect(finding.hint?.isEmpty == false)
        }
        #expect(report.ok == (breakage.status != .failed))
    }

    /// A node that uses no kernel mode, no Ceph and no libvirt skips those checks, saying why.
    @Test func checksOfUnusedFeaturesAreSkipped() async throws {
        var configuration = AgentConfiguration()
        configuration.libvirtURI = ""
        configuration.socketPath = "/run/t.sock"
        let host = FakeHost()
        host.setStatus("/run/t.sock", FileStatus(kind: .socket, mode: 0o660))
        let report = await Doctor(
            configuration: configuration, host: host, node: ConnectorProperties(initiator: Self.initiator), access: APIAccess(group: 0, groupName: "root"),
            registry: { CephRegistry() }, journal: try Journal(), monitorClock: FakeMonitorClock()
        ).run()
        let skipped = Set(report.findings.filter { $0.status == .skipped }.map(\.check))
        #expect(skipped == [.kernelModules, .iscsid, .multipathd, .udevRules, .cephPermissions, .libvirt, .clockSkew])
        #expect(report.findings.first { $0.check == .multipathd }?.message == "[multipath] is not enabled")
        // Network mode needs only the connector's name; the journal is empty.
        #expect(report.findings.filter { $0.status != .skipped }.map(\.status) == [.ok, .ok, .ok])
        #expect(report.ok)
    }

    /// A journaled kernel-mode iSCSI attachment turns the iSCSI checks on without any config.
    @Test func aKernelAttachmentTurnsOnTheISCSIChecks() async throws {
        var node = try await Node()
        node.configuration.localAttachMode = .network
        node.configuration.multipath = false
        let report = await node.report()
        #expect(report.findings.first { $0.check == .iscsid }?.status == .ok)
        #expect(report.findings.first { $0.check == .multipathd }?.status == .skipped)
        #expect(!report.findings.contains { $0.check == .kernelModules && $0.message.hasPrefix("dm_multipath") })
    }

    @Test func udevRuleDigestsMatchTheRepository() throws {
        for (file, digest) in Doctor.udevRuleDigests {
            let actual = SHA256.hex(of: Array(try Self.repositoryRules(file).utf8))
            #expect(actual == digest, "udev/\(file) changed: set its digest in Doctor.udevRuleDigests to \(actual)")
        }
    }

    @Test func multipathBlacklistRules() {
        // Debian's own default: blacklist what is not sd, dasd or nvme.
        #expect(MultipathConfig(parsing: "blacklist {\n\tdevnode \"!^(sd[a-z]|dasd[a-z]|nvme[0-9])\"\n}\n").blacklistedDisk == nil)
        #expect(MultipathConfig(parsing: "blacklist {\n\tdevnode \".*\"\n}\n").blacklistedDisk == "devnode \".*\"")
        #expect(MultipathConfig(parsing: "blacklist {\n\tdevnode \".*\"\n}\nblacklist_exceptions {\n\tdevnode \"^sd\"\n}\n").blacklistedDisk == nil)
        #expect(MultipathConfig(parsing: "defaults {\n\tfind_multipaths \"greedy\"\n}\n").defaults["find_multipaths"] == "greedy")
    }

    @Test func cephTimestamps() {
        let utc = RADOSMonitorClock.parse("2026-12-07T15:04:05.250000+0000")
        #expect(utc == Date(timeIntervalSince1970: 1_796_655_845.25))
        #expect(RADOSMonitorClock.parse("2026-12-07T16:04:05.250000+0100") == utc)
        #expect(RADOSMonitorClock.parse("2026-12-07 15:04:05.250000") == utc)
        #expect(RADOSMonitorClock.parse("yesterday") == nil)
    }

    @Test func reportEncodesAsTheAPIDocumentsIt() throws {
        let report = DoctorReport(findings: [
            DoctorFinding(.socket, .ok, "fine"), DoctorFinding(.journal, .failed, "vol-1: /dev/dm-0 is gone", hint: "tether detach vol-1 --force"),
        ])
        let json = try JSONDecoder().decode(JSONValue.self, from: try JSONEncoder().encode(report))
        #expect(json["ok"] == false)
        #expect(json["findings"]?.arrayValue?.first?.objectValue?.keys.sorted() == ["check", "message", "status"])
        #expect(json["findings"]?.arrayValue?.last?["check"] == "journal")
        let document = try OpenAPIDocument.repository()
        #expect(document.problems(answer: json, status: 200, of: .init(method: "GET", path: "/v1/doctor")) == [])
    }
}
