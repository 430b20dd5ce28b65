import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherTesting
import Testing

/// Network-mode iSCSI with CHAP and `[libvirt] uri`: tetherd defines the libvirt secret the disk
/// XML names (usage type iscsi, the CHAP password as its value, private), a private libvirtd
/// resolves it by usage into QEMU's command line, the reconciler defines it again when it is lost,
/// and detach undefines it.
@Suite(
    .tags(.integration), .enabled(if: Lab.runs(.tgtd, .libvirtd, .virsh)), .lab(.tgtd, .libvirtd, .virsh), .timeLimit(.minutes(2)), .serialized)
struct LibvirtISCSISecretTests {
    @Test func chapSecretIsDefinedForTheDiskAndUndefinedAtDetach() async throws {
        try await LibvirtLab.with { libvirt in
            try await Tgtd.with { tgtd in
                try await AgentProcess.with(tgtd: tgtd, libvirtURI: libvirt.uri) { agent in
                    let client = TetherAgentClient(socketPath: agent.socketPath)
                    let export = try await AgentISCSITests.export(client, tgtd, volume: "vol-i", initiator: agent.initiator)
                    let (attachment, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: export.connectionInfo))
                    let xml = attachment.diskXML ?? ""
                    #expect(xml.contains("<secret type='iscsi' usage='tether-iscsi-vol-i'/>"), "\(xml)")
                    let all = try libvirt.secrets()
                    let defined = all.filter { $0.usage == "iscsi tether-iscsi-vol-i" }
                    #expect(defined.count == 1, "\(all)")
                    let uuid = try #require(defined.first?.uuid)
                    #expect(try libvirt.virsh(["secret-dumpxml", uuid]).output.contains("private='yes'"))

                    // libvirt finds the secret by the usage the disk names (it fails on an unknown one).
                    let domain = try VirtualMachine.domainXML(name: "tether-iscsi", disks: [xml])
                    let file = libvirt.directory.file("iscsi-domain.xml")
                    try domain.write(toFile: file, atomically: true, encoding: .utf8)
                    let native = try libvirt.virsh(["domxml-to-native", "qemu-argv", "--xml", file])
                    #expect(native.status == 0, "\(native.output)")
                    #expect(native.output.contains("\"driver\":\"iscsi\"") && native.output.contains("\"password-secret\""), "\(native.output)")
                    #expect(!native.output.contains(AgentISCSITests.password(export.connectionInfo)))

                    // Lost by hand: the reconciler defines it again from the attachment's secret file.
                    #expect(try libvirt.virsh(["secret-undefine", uuid]).status == 0)
                    let unresolved = try libvirt.virsh(["domxml-to-native", "qemu-argv", "--xml", file])
                    #expect(unresolved.status != 0 && unresolved.output.contains("tether-iscsi-vol-i"), "\(unresolved.output)")
                    let report = try await client.send(.reconcile(ReconcileRequest(heal: true)))
                    #expect(report.attachments.first?.repairs.contains { $0.contains(uuid) } == true, "\(report.attachments)")
                    #expect(try libvirt.secrets().contains { $0.uuid == uuid })
                    #expect(try libvirt.virsh(["domxml-to-native", "qemu-argv", "--xml", file]).status == 0)

                    _ = try await client.detach("vol-i")
                    let left = try libvirt.secrets()
                    #expect(!left.contains { $0.usage.contains("tether-iscsi-") }, "\(left)")
                    #expect(!agent.log().contains(AgentISCSITests.password(export.connectionInfo)))
                    _ = try await client.deleteExport(volumeID: "vol-i")
                }
            }
        }
    }
}
