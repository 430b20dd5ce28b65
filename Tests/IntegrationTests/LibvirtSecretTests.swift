import Foundation
import TetherAPI
import TetherCeph
import TetherClient
import TetherCore
import TetherRBD
import TetherTesting
import Testing

/// Per-cluster libvirt secrets in a private libvirtd, and a domain holding one RBD disk from each of
/// two clusters with the same pool and image names: libvirt's own QEMU command line gives each disk
/// its own monitors, user and secret.
@Suite(
    .tags(.integration), .enabled(if: Lab.runs(.cephMon, .cephOSD, .libvirtd, .virsh)), .lab(.cephMon, .cephOSD, .libvirtd, .virsh), .timeLimit(.minutes(3)), .serialized)
struct LibvirtSecretTests {
    @Test func secretsPerClusterAndOneDomainWithDisksFromBoth() async throws {
        try await LibvirtLab.with { libvirt in
            try await CephLab.withTwo { a, b in
                try await TemporaryDirectory.with(prefix: "reg") { registry in
                    try await AgentRBDTests.register(a, in: registry.path)
                    for lab in [a, b] {
                        let connection = try await RADOSConnection.connect(clusterName: lab.name, monitors: lab.monitors, user: "cinder", key: lab.cinderKey)
                        try await connection.createImage(pool: "rbd", image: "volume-1", size: 4 << 20)
                    }
                    let config = Lab.cephConfig(registry: registry)
                    try await AgentProcess.with(tgtd: nil, extraConfig: config, libvirtURI: libvirt.uri) { agent in
                        let client = TetherAgentClient(socketPath: agent.socketPath)
                        // A was registered before start; B through the API.
                        let added = try await client.send(.addCluster(CreateClusterRequest(
                            name: "ceph-b", fsid: b.fsid, monHost: [b.monitors], users: [.init(name: "cinder", key: b.cinderKey)])))
                        let clusterA = try await client.send(.cluster("ceph-a"))
                        let uuidA = clusterA.users[0].secretUUID, uuidB = added.users[0].secretUUID
                        #expect(uuidA != uuidB)

                        let list = try libvirt.virsh(["secret-list"]).output
                        #expect(list.contains(uuidA) && list.contains("tether ceph-a client.cinder"), "\(list)")
                        #expect(list.contains(uuidB) && list.contains("tether ceph-b client.cinder"), "\(list)")
                        let secretXML = try libvirt.virsh(["secret-dumpxml", uuidA]).output
                        #expect(secretXML.contains("private='yes'") && secretXML.contains("ephemeral='no'"))
                        #expect(try libvirt.virsh(["secret-get-value", uuidA]).status != 0)  // private: never read back

                        let (diskA, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: AgentRBDTests.connectionInfo(a, volume: "va", clusterName: "ceph-a")))
                        let (diskB, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: AgentRBDTests.connectionInfo(b, volume: "vb", clusterName: "ceph-b")))
                        let domain = """
                            <domain type='qemu'>
                              <name>tether-two-clusters</name>
                              <memory unit='MiB'>64</memory>
                              <os><type arch='x86_64'>hvm</type></os>
                              <devices>
                                <emulator>/usr/bin/qemu-system-x86_64</emulator>
                            \((diskA.diskXML ?? "").replacingOccurrences(of: "dev='vdb'", with: "dev='vda'"))
                            \(diskB.diskXML ?? "")
                              </devices>
                            </domain>
                            """
                        let domainFile = registry.file("domain.xml")
                        try domain.write(toFile: domainFile, atomically: true, encoding: .utf8)
                        let native = try libvirt.virsh(["domxml-to-native", "qemu-argv", "--xml", domainFile])
                        #expect(native.status == 0, "\(native.output)")
                        let blockdevs = native.output.components(separatedBy: "-blockdev ").dropFirst().filter { $0.contains("\"driver\":\"rbd\"") }
                        #expect(blockdevs.count == 2, "\(native.output)")
                        let forA = blockdevs.first { $0.contains("\"port\":\"\(a.monitorV1.port)\"") }
                        let forB = blockdevs.first { $0.contains("\"port\":\"\(b.monitorV1.port)\"") }
                        #expect(forA != nil && forB != nil)
                        #expect(forA?.contains("\(b.monitorV1.port)") == false && forB?.contains("\(a.monitorV1.port)") == false)
                        #expect(forA?.contains("\"user\":\"cinder\"") == true && forA?.contains("key-secret") == true)
                        #expect(forA?.contains("ceph-a.conf") == true && forB?.contains("ceph-b.conf") == true)
                        // Each disk's key secret is its own cluster's: libvirt resolved the two UUIDs.
                        func keySecret(_ blockdev: String?) -> String? {
                            blockdev?.components(separatedBy: "\"key-secret\":\"").dropFirst().first?.components(separatedBy: "\"").first
                        }
                        #expect(keySecret(forA) != nil && keySecret(forA) != keySecret(forB))

                        _ = try await client.detach("va")
                        _ = try await client.detach("vb")
                        _ = try await client.send(.removeCluster("ceph-b"))
                        let after = try libvirt.virsh(["secret-list"]).output
                        #expect(!after.contains(uuidB) && after.contains(uuidA))
                        #expect(!agent.log().contains(b.cinderKey.reveal { $0 }))
                    }
                }
            }
        }
    }
}
