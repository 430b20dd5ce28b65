import Foundation
import TetherAPI
import TetherCeph
import TetherClient
import TetherCore
import TetherLinux
import TetherRBD
import TetherTesting
import Testing

/// Two nodes and live migration (issue #14, item 7). Node 1 is the test's own private network
/// namespace, node 2 a namespace of its own (NodeNamespace), joined by one veth; each has its own
/// libvirtd (own mount namespace, Tether's hook installed) and its own tetherd, with DIFFERENT
/// secret UUIDs for the same two Ceph clusters, which listen on node 1's veth address. A TCG
/// domain with one RBD disk from each cluster, started on node 1 from Tether's disk XML, moves by
/// `virsh migrate --live` over the veth. While node 2 lacks cluster B its hook refuses the
/// migration and the domain runs on, untouched; once B is registered there, the migration
/// passes and node 2's QEMU reads both patterns through node 2's secrets (A's XML names node 1's
/// UUID, as Nova's does, and is rewritten; B's names Tether's usage, the same on both nodes). Node 2's tetherd runs in node 2's namespace too.
@Suite(
    .tags(.integration), .enabled(if: Lab.runs(.cephMon, .cephOSD, .libvirtd, .virsh, .qemuSystem)),
    .lab(.cephMon, .cephOSD, .libvirtd, .virsh, .qemuSystem), .timeLimit(.minutes(5)), .serialized)
struct HookMigrationTests {
    static let node1 = (a: "0a1a0001-0000-4000-8000-00000000000a", b: "0b1b0001-0000-4000-8000-00000000000b")
    static let node2A = "0a2a0002-0000-4000-8000-00000000000a"

    /// Registers `lab` in `directory` with `secretUUID` for its cinder user (as Nova's
    /// rbd_secret_uuid would be).
    static func register(_ lab: CephLab, secretUUID: String, in directory: String) async throws {
        let user = try CephUser(
            name: "cinder", keyFile: CephRegistry.defaultKeyFile(cluster: lab.name, user: "cinder", directory: directory), secretUUID: UUID(uuidString: secretUUID))
        let cluster = try CephCluster(name: lab.name, fsid: UUID(uuidString: lab.fsid)!, monitors: [try CephMonitor(v2: lab.monitorV2, v1: lab.monitorV1)], users: [user])
        try await CephRegistry.write(cluster, keys: ["cinder": lab.cinderKey], directory: directory, host: LinuxHost())
    }

    /// HMP qemu-io in the running domain on the disk `target`: reads 64 KiB at 0 and checks
    /// every byte is `byte`. `-d` takes a qdev id, and virtio-blk-pci's block backend belongs to
    /// its inner device, so the QOM path names that; qemu-io prints its result on QEMU's stdout,
    /// which libvirt writes to the domain's log.
    static func reads(_ libvirt: LibvirtLab, _ domain: String, disk target: String, byte: UInt8) throws -> Bool {
        let xml = try libvirt.virsh(["dumpxml", domain]).output
        let disk = xml.components(separatedBy: "<disk ").dropFirst().first { $0.contains("dev='\(target)'") }
        guard let alias = disk?.components(separatedBy: "<alias name='").dropFirst().first?.components(separatedBy: "'").first else {
            print("no alias for \(target) in \(xml)")
            return false
        }
        let before = libvirt.domainLog(domain).components(separatedBy: "read 65536/65536 bytes").count
        let command = "qemu-io -d /machine/peripheral/\(alias)/virtio-backend \"read -P 0x\(String(byte, radix: 16)) 0 64k\""
        let result = try libvirt.virsh(["qemu-monitor-command", "--hmp", domain, command])
        for _ in 0..<50 {
            let log = libvirt.domainLog(domain)
            if log.components(separatedBy: "read 65536/65536 bytes").count > before { return result.status == 0 && !log.contains("Pattern verification failed") }
            usleep(100_000)
        }
        print("qemu-io on \(target) (\(alias)): \(result.output); log: \(libvirt.domainLog(domain).suffix(1500))")
        return false
    }

    static func domain(_ disks: [String]) -> String {
        """
        <domain type='qemu'>
          <name>tether-mig</name>
          <memory unit='MiB'>64</memory>
          <os><type arch='x86_64'>hvm</type></os>
          <features><acpi/></features>
          <devices>
            <emulator>/usr/bin/qemu-system-x86_64</emulator>
        \(disks.joined(separator: "\n"))
          </devices>
        </domain>
        """
    }

    @Test func liveMigrationRewritesSecretsAndARefusalLeavesTheSourceRunning() async throws {
        try await NodeNamespace.with(subnet: 14) { namespace in
            try await CephLab.withTwo(address: namespace.hostAddress) { a, b in
                for (lab, byte) in [(a, UInt8(0xaa)), (b, UInt8(0xbb))] {
                    let connection = try await RADOSConnection.connect(clusterName: lab.name, monitors: lab.monitors, user: "cinder", key: lab.cinderKey)
                    try await connection.createImage(pool: "rbd", image: "volume-1", size: 4 << 20)
                    try await connection.write(pool: "rbd", image: "volume-1", offset: 0, data: [UInt8](repeating: byte, count: 65536))
                }
                try await TemporaryDirectory.with(prefix: "mig") { work in
                    try await migrate(a, b, namespace: namespace, work: work)
                }
            }
        }
    }

    func migrate(_ a: CephLab, _ b: CephLab, namespace: NodeNamespace, work: TemporaryDirectory) async throws {
        let registry1 = try TemporaryDirectory(prefix: "reg1"), registry2 = try TemporaryDirectory(prefix: "reg2")
        defer { registry1.remove(); registry2.remove() }
        try await Self.register(a, secretUUID: Self.node1.a, in: registry1.path)
        try await Self.register(b, secretUUID: Self.node1.b, in: registry1.path)
        try await Self.register(a, secretUUID: Self.node2A, in: registry2.path)  // node 2: A only, for now
        // The hooks' sockets are links made once each tetherd runs: libvirtd starts first (tetherd
        // defines its secrets there), and its hook must know where to ask.
        let hook1 = LibvirtLab.Hook(tether: HookAgentTests.tether, socket: work.file("n1.sock"))
        let hook2 = LibvirtLab.Hook(tether: HookAgentTests.tether, socket: work.file("n2.sock"))
        try await LibvirtLab.with(hook: hook1) { libvirt1 in
            try await LibvirtLab.with(hook: hook2, namespace: namespace) { libvirt2 in
                try await AgentProcess.with(tgtd: nil, extraConfig: Lab.cephConfig(registry: registry1), libvirtURI: libvirt1.uri) { agent1 in
                    try await AgentProcess.with(
                        tgtd: nil, extraConfig: Lab.cephConfig(registry: registry2), libvirtURI: libvirt2.uri, launcher: namespace.launcher
                    ) { agent2 in
                        try FileManager.default.createSymbolicLink(atPath: hook1.socket, withDestinationPath: agent1.socketPath)
                        try FileManager.default.createSymbolicLink(atPath: hook2.socket, withDestinationPath: agent2.socketPath)
                        try await run(a, b, namespace: namespace, nodes: (libvirt1, libvirt2), agents: (agent1, agent2), work: work)
                    }
                }
            }
        }
    }

    func run(
        _ a: CephLab, _ b: CephLab, namespace: NodeNamespace, nodes: (LibvirtLab, LibvirtLab), agents: (AgentProcess, AgentProcess), work: TemporaryDirectory
    ) async throws {
        let (libvirt1, libvirt2) = nodes
        let client1 = TetherAgentClient(socketPath: agents.0.socketPath), client2 = TetherAgentClient(socketPath: agents.1.socketPath)
        let (diskA, _) = try await client1.attach(CreateAttachmentRequest(connectionInfo: AgentRBDTests.connectionInfo(a, volume: "va", clusterName: "ceph-a")))
        let (diskB, _) = try await client1.attach(CreateAttachmentRequest(connectionInfo: AgentRBDTests.connectionInfo(b, volume: "vb", clusterName: "ceph-b")))
        let file = work.file("domain.xml")
        // B is Tether's disk XML as it is (its secret named by a usage that is the same on every
        // node); A names its secret by node 1's UUID, as Nova's XML does: the hook rewrites that one.
        // The two attachments got targets that do not collide.
        let usageA = try #require(diskA.diskXML?.components(separatedBy: "usage='").dropFirst().first?.components(separatedBy: "'").first)
        let novaStyleA = (diskA.diskXML ?? "").replacingOccurrences(of: "usage='\(usageA)'", with: "uuid='\(Self.node1.a)'")
        try #require(novaStyleA.contains("dev='vdb'") && novaStyleA.contains(Self.node1.a) && diskB.diskXML?.contains("dev='vdc'") == true)
        try Self.domain([novaStyleA, diskB.diskXML ?? ""])
            .write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try libvirt1.virsh(["define", file]).status == 0)
        let started = try libvirt1.virsh(["start", "tether-mig"])
        try #require(started.status == 0, "\(started.output)\n\(libvirt1.domainLog("tether-mig"))")
        #expect(try Self.reads(libvirt1, "tether-mig", disk: "vdb", byte: 0xaa) && Self.reads(libvirt1, "tether-mig", disk: "vdc", byte: 0xbb))

        let migrate = ["migrate", "--live", "tether-mig", libvirt2.uri, "--migrateuri", "tcp://\(namespace.nodeAddress):49152"]
        // Node 2 lacks cluster B: its migrate begin refuses, naming B's monitors and conf.
        let refused = try libvirt1.virsh(migrate)
        #expect(refused.status != 0)
        #expect(refused.output.contains("\(b.monitorV1)") && refused.output.contains("ceph-b.conf") && refused.output.contains("known: ceph-a"), "\(refused.output)")
        #expect(try libvirt1.virsh(["domstate", "tether-mig"]).output.contains("running"))
        #expect(try libvirt2.virsh(["list", "--all", "--name"]).output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        #expect(try Self.reads(libvirt1, "tether-mig", disk: "vdc", byte: 0xbb))
        let source = try libvirt1.virsh(["dumpxml", "tether-mig"]).output
        #expect(source.contains(Self.node1.a))

        // Node 2 registers B (its secret UUID is derived: not node 1's, its usage the same); now
        // the migration passes.
        let added = try await client2.send(.addCluster(CreateClusterRequest(name: "ceph-b", fsid: b.fsid, monHost: [b.monitors], users: [.init(name: "cinder", key: b.cinderKey)])))
        #expect(added.users[0].secretUUID != Self.node1.b)
        let migrated = try libvirt1.virsh(migrate)
        try #require(migrated.status == 0, "\(migrated.output)\n\(libvirt2.domainLog("tether-mig"))")
        #expect(try libvirt2.virsh(["domstate", "tether-mig"]).output.contains("running"))
        let destination = try libvirt2.virsh(["dumpxml", "tether-mig"]).output
        #expect(destination.contains(Self.node2A) && !destination.contains(Self.node1.a), "\(destination)")
        #expect(destination.contains("usage='\(added.users[0].secretUsage)'"), "\(destination)")
        #expect(try Self.reads(libvirt2, "tether-mig", disk: "vdb", byte: 0xaa) && Self.reads(libvirt2, "tether-mig", disk: "vdc", byte: 0xbb))
        // Node 1 let go: its domain is off and its hook's release ran (it had attached nothing).
        #expect(!(try libvirt1.virsh(["domstate", "tether-mig"]).output.contains("running")))
        #expect(agents.0.log().contains("nothing the hook attached") && agents.1.log().contains("cluster ceph-a user cinder, secret \(Self.node2A)"))

        // The check can fail: a pattern the disk does not hold is caught (last: it stays in the log).
        #expect(!(try Self.reads(libvirt2, "tether-mig", disk: "vdb", byte: 0x5a)))
        #expect(try libvirt2.virsh(["destroy", "tether-mig"]).status == 0)
        _ = try await client1.detach("va")
        _ = try await client1.detach("vb")
    }
}
