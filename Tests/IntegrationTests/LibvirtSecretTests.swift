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
                        // Usage names follow fsid and user, not the name the cluster has here.
                        #expect(clusterA.users[0].secretUsage == "tether ceph \(a.fsid) client.cinder" && !clusterA.users[0].secretAdopted)
                        #expect(list.contains(uuidA) && list.contains("tether ceph \(a.fsid) client.cinder"), "\(list)")
                        #expect(list.contains(uuidB) && list.contains("tether ceph \(b.fsid) client.cinder"), "\(list)")
                        #expect(try libvirt.virsh(["secret-dumpxml", uuidA]).output.contains("ceph-a"), "the description names the cluster")
                        let secretXML = try libvirt.virsh(["secret-dumpxml", uuidA]).output
                        #expect(secretXML.contains("private='yes'") && secretXML.contains("ephemeral='no'"))
                        #expect(try libvirt.virsh(["secret-get-value", uuidA]).status != 0)  // private: never read back

                        let (diskA, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: AgentRBDTests.connectionInfo(a, volume: "va", clusterName: "ceph-a")))
                        let (diskB, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: AgentRBDTests.connectionInfo(b, volume: "vb", clusterName: "ceph-b")))
                        // The disks name their secrets by usage, and libvirt resolves them (below).
                        #expect(diskA.diskXML?.contains("<secret type='ceph' usage='tether ceph \(a.fsid) client.cinder'/>") == true, "\(diskA.diskXML ?? "")")
                        #expect(diskB.diskXML?.contains("usage='tether ceph \(b.fsid) client.cinder'") == true)
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

    /// A node upgraded from the naming by cluster name ("tether ceph-a client.cinder") keeps one
    /// secret per (cluster, user): the same UUID, now with the fsid-based usage.
    @Test func secretsOfTheOldUsageNamingMoveToTheNewOne() async throws {
        try await LibvirtLab.with { libvirt in
            try await CephLab.withOne { a in
                try await TemporaryDirectory.with(prefix: "reg") { registry in
                    try await AgentRBDTests.register(a, in: registry.path)
                    let uuid = CephCluster.derivedSecretUUID(fsid: UUID(uuidString: a.fsid)!, user: "cinder").uuidString.lowercased()
                    try libvirt.defineSecret(uuid: uuid, usage: "tether ceph-a client.cinder", private: true, base64Value: a.cinderKey)
                    // Tether's own secret of a cluster since removed, under the old naming: it goes.
                    let gone = UUID().uuidString.lowercased()
                    try libvirt.defineSecret(uuid: gone, usage: "tether ceph-old client.cinder", private: true, base64Value: a.cinderKey)
                    try await AgentProcess.with(tgtd: nil, extraConfig: Lab.cephConfig(registry: registry), libvirtURI: libvirt.uri) { agent in
                        let secrets = try libvirt.secrets()
                        #expect(secrets.count == 1, "\(secrets)")
                        #expect(secrets.first?.uuid == uuid && secrets.first?.usage.hasSuffix("tether ceph \(a.fsid) client.cinder") == true, "\(secrets)")
                        let synced = try await TetherAgentClient(socketPath: agent.socketPath).send(.syncClusters)
                        #expect(synced.secretsDefined == [uuid] && synced.secretsRemoved.isEmpty && synced.problems.isEmpty, "a second sync changes nothing: \(synced)")
                        #expect(try libvirt.secrets().count == 1)
                    }
                }
            }
        }
    }

    /// Nova's secret at the cluster file's `secret_uuid` (another usage name, not private) and a
    /// deployment's secret holding the same key under another UUID are adopted, used by UUID in
    /// the disk XML and never undefined; a secret at that UUID with another key is refused.
    @Test func secretsOfOtherToolsAreAdoptedOrRefused() async throws {
        try await LibvirtLab.with { libvirt in
            try await CephLab.withTwo { a, b in
                try await TemporaryDirectory.with(prefix: "reg") { registry in
                    try await AgentRBDTests.register(a, in: registry.path)
                    let connection = try await RADOSConnection.connect(clusterName: b.name, monitors: b.monitors, user: "cinder", key: b.cinderKey)
                    try await connection.createImage(pool: "rbd", image: "volume-1", size: 4 << 20)
                    let novaUUID = UUID().uuidString.lowercased(), deployedUUID = UUID().uuidString.lowercased()
                    try libvirt.defineSecret(uuid: novaUUID, usage: "client.cinder secret", private: false, base64Value: b.cinderKey)
                    try libvirt.defineSecret(uuid: deployedUUID, usage: "ceph-a cinder", private: false, base64Value: a.cinderKey)
                    try await AgentProcess.with(tgtd: nil, extraConfig: Lab.cephConfig(registry: registry), libvirtURI: libvirt.uri) { agent in
                        let client = TetherAgentClient(socketPath: agent.socketPath)
                        let clusterA = try await client.send(.cluster("ceph-a"))
                        #expect(clusterA.users[0].secretAdopted && clusterA.users[0].secretUUID == deployedUUID, "\(clusterA)")
                        let added = try await client.send(.addCluster(CreateClusterRequest(
                            name: "ceph-b", fsid: b.fsid, monHost: [b.monitors], users: [.init(name: "cinder", key: b.cinderKey, secretUUID: novaUUID)])))
                        #expect(added.users[0].secretAdopted && added.users[0].secretUUID == novaUUID && added.users[0].secretUsage == "client.cinder secret", "\(added)")
                        let all = try libvirt.secrets()
                        #expect(!all.contains { $0.usage.contains("tether ") }, "Tether defined nothing of its own: \(all)")
                        let (disk, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: AgentRBDTests.connectionInfo(b, volume: "vb", clusterName: "ceph-b")))
                        #expect(disk.diskXML?.contains("<secret type='ceph' uuid='\(novaUUID)'/>") == true, "\(disk.diskXML ?? "")")
                        _ = try await client.detach("vb")

                        // Adoptions are journaled: a restarted agent still uses them.
                        agent.stop()
                        try agent.start()
                        #expect(try await client.send(.cluster("ceph-b")).users[0].secretAdopted)

                        // Unregistered: the adopted secrets stay, they are the other tools'.
                        _ = try await client.send(.removeCluster("ceph-b"))
                        _ = try await client.send(.removeCluster("ceph-a"))
                        let left = try libvirt.secrets().map(\.uuid)
                        #expect(Set(left) == [novaUUID, deployedUUID], "\(left)")

                        // Nova's UUID given to a cluster whose key it does not hold: refused, both UUIDs named.
                        let derived = CephCluster.derivedSecretUUID(fsid: UUID(uuidString: a.fsid)!, user: "cinder").uuidString.lowercased()
                        _ = try await client.send(.addCluster(CreateClusterRequest(
                            name: "ceph-a", fsid: a.fsid, monHost: [a.monitors], users: [.init(name: "cinder", key: a.cinderKey, secretUUID: novaUUID)])))
                        let refused = try await client.send(.syncClusters)
                        let problem = refused.problems.first { $0.contains(novaUUID) }
                        #expect(problem?.contains("another key") == true && problem?.contains(derived) == true, "\(refused.problems)")
                        #expect(try await !client.send(.cluster("ceph-a")).users[0].secretAdopted)
                        #expect(Set(try libvirt.secrets().map(\.uuid)) == [novaUUID, deployedUUID], "a refusal changes nothing")
                        #expect(!agent.log().contains(a.cinderKey.reveal { $0 }) && !agent.log().contains(b.cinderKey.reveal { $0 }))
                    }
                }
            }
        }
    }
}
