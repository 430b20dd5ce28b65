import Foundation
import Logging
import TetherAPI
@testable import TetherAgent
import TetherCore
import TetherFakes
import Testing

/// migrate/restore begin for iSCSI disks with CHAP, decided from a scripted journal alone: the hook
/// has no libvirt to ask, so a network-mode attachment here whose secret tetherd defined is the proof.
@Suite struct HookISCSIFilterTests {
    static let iqn = "iqn.2026-11.io.tether:vol-n"
    static let sourceUUID = "11111111-2222-4333-8444-555555555555"
    let journal: Journal
    let directory: TemporaryDirectory

    init() throws {
        journal = try Journal()
        directory = try TemporaryDirectory(prefix: "hook-iscsi")
    }

    func hooks() async throws -> HookService {
        let attachments = AttachmentService(
            journal: journal, locks: VolumeLocks(), connectors: [ScriptedConnector(mode: .network)], node: ConnectorProperties(initiator: "iqn.test:node"),
            stats: OperationStats(), logger: Logger(label: "test"))
        let clusters = try await ClusterService(directory: directory.path, cephDirectory: directory.file("ceph"), secretStore: nil, host: FakeHost(), logger: Logger(label: "test"))
        return HookService(attachments: attachments, journal: journal, clusters: clusters, cephDirectory: directory.file("ceph"), logger: Logger(label: "test"))
    }

    /// Journals what NetworkISCSIConnector records for a CHAP attach with `[libvirt] uri` set.
    func journalAttachment(volume: String = "vol-n", iqn: String = Self.iqn, lun: Int = 1, user: String = "node2user", libvirtSecret: Bool = true) async throws -> DefinedLibvirtSecret {
        let id = UUID().uuidString.lowercased()
        let info = ConnectionInfo(driverVolumeType: "iscsi", data: [
            "target_portal": "192.0.2.1:3260", "target_iqn": .string(iqn), "target_lun": .int(Int64(lun)),
            "auth_method": "CHAP", "auth_username": .string(user), "auth_password": .string(Redaction.mask),
        ])
        try await journal.beginAttach(AttachmentRecord(
            id: id, volumeID: volume, targetKey: "iscsi:\(iqn):\(lun)", protocolName: "iscsi", mode: .network, state: .attaching,
            connectionInfo: info, result: nil, createdAt: "2026-12-07T00:00:00Z", updatedAt: "2026-12-07T00:00:00Z"))
        let secret = DefinedLibvirtSecret(uuid: UUID(), usage: LibvirtSecretUsage(.iscsi, "tether-iscsi-\(volume)"))
        var result = AttachedVolume(
            protocolName: "iscsi", mode: .network, paths: [.init(portal: "192.0.2.1:3260", target: iqn, lun: lun, state: "ok")],
            wwid: "naa.6fake", sizeBytes: 1 << 20, blockSize: 512, devicePath: nil, diskXML: "", qemuBlockdev: ["driver": "raw"], qemuObjects: [], secretFiles: [])
        if libvirtSecret { result.libvirtSecrets = [secret] }
        try await journal.finishAttach(id: id, result: result)
        return secret
    }

    static func domain(secret: String, user: String = "node1user", name: String = "\(iqn)/1") -> String {
        """
        <domain type='kvm'><name>vm1</name><devices>
          <disk type='network' device='disk'>
            <source protocol='iscsi' name='\(name)'>
              <host name='192.0.2.1' port='3260'/>
              <auth username='\(user)'><secret type='iscsi' \(secret)/></auth>
            </source>
            <target dev='vdb' bus='virtio'/>
          </disk>
          <disk type='network' device='disk'>
            <source protocol='iscsi' name='iqn.2026-11.org.other:plain/0'><host name='192.0.2.9'/></source>
            <target dev='vdc' bus='virtio'/>
          </disk>
        </devices></domain>
        """
    }

    func migrate(_ xml: String) async throws -> QemuHookResponse {
        try await hooks().qemu(QemuHookRequest(domain: "vm1", action: .migrate, xml: xml))
    }

    static func iscsiDisk(_ xml: String) throws -> DomainDisk.ISCSIDisk {
        let disks = try DomainXML(xml).disks
        // The disk without auth is not the hook's: only the CHAP disk is read.
        #expect(disks.count == 1)
        guard case .iscsi(let disk) = disks.first else { throw TetherError.invalidInput("no iscsi disk in \(disks)") }
        return disk
    }

    @Test func aUUIDIsRewrittenToThisNodesSecretAndTheUserToThisNodesUser() async throws {
        defer { directory.remove() }
        let secret = try await journalAttachment()
        let answer = try await migrate(Self.domain(secret: "uuid='\(Self.sourceUUID)'"))
        let xml = try #require(answer.xml)
        let disk = try Self.iscsiDisk(xml)
        #expect(disk.secret == .uuid(secret.uuid.uuidString.lowercased()))
        #expect(disk.user == "node2user")
        #expect(!xml.contains(Self.sourceUUID) && !xml.contains("node1user"))
        // The disk without auth came through as it was.
        #expect(xml.contains("iqn.2026-11.org.other:plain/0"))
    }

    @Test func anotherToolsUsageBecomesTethers() async throws {
        defer { directory.remove() }
        _ = try await journalAttachment()
        let answer = try await migrate(Self.domain(secret: "usage='nova-chap-vol-n'", user: "node2user"))
        let disk = try Self.iscsiDisk(try #require(answer.xml))
        #expect(disk.secret == .usage("tether-iscsi-vol-n") && disk.user == "node2user")
    }

    @Test func tethersUsageWithTheSameUserIsLeftUnchanged() async throws {
        defer { directory.remove() }
        _ = try await journalAttachment()
        let answer = try await migrate(Self.domain(secret: "usage='tether-iscsi-vol-n'", user: "node2user"))
        #expect(answer.xml == nil)
        #expect(answer.actions.contains { $0.contains("vol-n") && $0.contains("unchanged") })
    }

    @Test func aTargetThisNodeHasNotAttachedRefusesNamingTheIQN() async throws {
        defer { directory.remove() }
        // Another target, the right target on another LUN, and the right target whose secret tetherd did not define:
        // none of them lets QEMU log in here.
        _ = try await journalAttachment(volume: "vol-x", iqn: "iqn.2026-11.io.tether:vol-x")
        _ = try await journalAttachment(volume: "vol-l", lun: 2)
        _ = try await journalAttachment(volume: "vol-n", libvirtSecret: false)
        let error = await #expect(throws: TetherError.self) {
            try await migrate(Self.domain(secret: "usage='tether-iscsi-vol-n'"))
        }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("domain vm1") == true && error?.message.contains(Self.iqn) == true)
        #expect(error?.hint?.contains("tether attach") == true && error?.hint?.contains("network mode") == true)
    }

    @Test func aSourceNameThatIsNotIQNSlashLUNIsRefusedNotCrashed() async throws {
        defer { directory.remove() }
        _ = try await journalAttachment()
        for name in ["\(Self.iqn)/99999", "\(Self.iqn)/x", "/1", "\(Self.iqn)/-1"] {
            let error = await #expect(throws: TetherError.self) {
                try await migrate(Self.domain(secret: "usage='tether-iscsi-vol-n'", name: name))
            }
            #expect(error?.code == .invalidInput, "\(name)")
        }
    }

    @Test func aSourceNameWithoutALUNIsLUN0() {
        let bare = DomainXML.iscsiName("iqn.2026-11.io.tether:a")
        #expect(bare.iqn == "iqn.2026-11.io.tether:a" && bare.lun == 0)
        let seven = DomainXML.iscsiName("iqn.2026-11.io.tether:a/7")
        #expect(seven.iqn == "iqn.2026-11.io.tether:a" && seven.lun == 7)
    }

    @Test func anUnknownRBDClusterAndAnUnattachedTargetAreNamedInOneRefusal() async throws {
        defer { directory.remove() }
        let rbd = "<disk type='network' device='disk'><source protocol='rbd' name='rbd/v'><host name='198.51.100.7' port='6789'/>"
            + "<auth username='cinder'><secret type='ceph' uuid='\(Self.sourceUUID)'/></auth></source><target dev='vde' bus='virtio'/></disk>"
        let xml = Self.domain(secret: "usage='tether-iscsi-vol-n'").replacingOccurrences(of: "</devices>", with: rbd + "</devices>")
        let error = await #expect(throws: TetherError.self) { try await migrate(xml) }
        #expect(error?.message.contains("198.51.100.7") == true && error?.message.contains(Self.iqn) == true, "\(String(describing: error))")
        #expect(error?.hint?.contains("tether cluster add") == true && error?.hint?.contains("tether attach") == true)
    }
}
