import Foundation
import TetherAPI
import TetherCeph
import TetherClient
import TetherCore
import TetherRBD
import TetherTesting
import Testing

/// The VM lab: a private libvirtd starts a TCG domain whose three disks are exactly what
/// `tether disk-xml` printed through a real tetherd — an RBD image on Ceph cluster A (client.cinder,
/// derived secret UUID), one on cluster B (client.nova, its own secret UUID, other monitors), and a
/// CHAP iSCSI LUN Tether exported through tgtd (`tether export create`). QEMU reads what independent
/// clients wrote before the start and writes what qemu-io reads after the domain stopped; then
/// Tether detaches and libvirt keeps only the ceph secrets of the registered clusters.
@Suite(
    .tags(.integration), .enabled(if: Lab.runs(.tgtd, .cephMon, .cephOSD, .libvirtd, .virsh, .qemuIO, .qemuSystem)),
    .lab(.tgtd, .cephMon, .cephOSD, .libvirtd, .virsh, .qemuIO, .qemuSystem), .timeLimit(.minutes(3)), .serialized)
struct LibvirtVMTests {
    static let secretUUIDB = UUID(uuidString: "6d3a8e1c-2b4f-4c5d-9e8f-0a1b2c3d4e5f")!

    /// `tether ARGS` against the agent; fails the test on a non-zero exit.
    static func tether(_ agent: AgentProcess, _ arguments: [String]) throws -> String {
        let result = try CLIFlowTests.tether(agent, arguments)
        guard result.status == 0 else { throw TetherError(.internalError, "tether \(arguments.joined(separator: " ")) exited \(result.status): \(result.output)") }
        return result.output
    }

    @Test func aDomainOnDisksFromTwoCephClustersAndCHAPISCSIReadsAndWrites() async throws {
        try await LibvirtLab.with { libvirt in
            try await CephLab.withTwo { a, b in
                try await Tgtd.with { tgtd in
                    try await TemporaryDirectory.with(prefix: "vm") { registry in
                        try await Self.run(libvirt: libvirt, a: a, b: b, tgtd: tgtd, registry: registry)
                    }
                }
            }
        }
    }

    static func run(libvirt: LibvirtLab, a: CephLab, b: CephLab, tgtd: Tgtd, registry: TemporaryDirectory) async throws {
        // Cluster B is used as client.nova, with its own secret UUID; A as client.cinder, derived.
        let novaKey = try b.addUser("nova")
        try await a.register(in: registry.path)
        try await b.register(in: registry.path, user: "nova", key: novaKey, secretUUID: secretUUIDB)
        // Patterns written before the start by librbd itself, an independent client.
        for (lab, user, key, byte) in [(a, "cinder", a.cinderKey, UInt8(0xa1)), (b, "nova", novaKey, UInt8(0xb2))] {
            let connection = try await RADOSConnection.connect(clusterName: lab.name, monitors: lab.monitors, user: user, key: key)
            try await connection.createImage(pool: "rbd", image: "vm-disk", size: 8 << 20)
            try await connection.write(pool: "rbd", image: "vm-disk", offset: 0, data: [UInt8](repeating: byte, count: 65536))
        }
        try await AgentProcess.with(tgtd: tgtd, extraConfig: Lab.cephConfig(registry: registry), libvirtURI: libvirt.uri) { agent in
            let client = TetherAgentClient(socketPath: agent.socketPath)
            // Initialize + attach each volume with the CLI, as an operator would.
            let exports: [(volume: String, arguments: [String])] = [
                ("vm-a", ["--rbd", "ceph-a/rbd/vm-disk"]),
                ("vm-b", ["--rbd", "ceph-b/rbd/vm-disk", "--rbd-user", "nova"]),
                ("vm-i", ["--path", tgtd.directory.file("vm-i.img"), "--size", "16M", "--initiator", agent.initiator]),
            ]
            for (volume, arguments) in exports {
                let info = agent.directory.file("\(volume).json")
                try tether(agent, ["export", "create", "--volume-id", volume] + arguments + ["--output", info])
                try tether(agent, ["attach", "--connection-info", info, "--volume", volume])
            }
            var attachments: [String: AttachmentBody] = [:]
            for volume in ["vm-a", "vm-b", "vm-i"] { attachments[volume] = try await client.send(.attachment(volume)) }
            // The iSCSI LUN's pattern, written by qemu-io logging in itself with the CHAP password.
            let written = try QEMU.io(try #require(attachments["vm-i"]), command: "write -P 0xc3 0 65536")
            #expect(written.contains("wrote 65536/65536"), "\(written)")

            // On the SCSI bus: HMP's qemu-io finds the block backend of a scsi-hd by its qdev id,
            // while virtio-blk-pci's backend sits on an inner device that has none.
            let disks = try ["vm-a", "vm-b", "vm-i"].map { try tether(agent, ["disk-xml", $0, "--bus", "scsi"]) }
            #expect(disks[0].contains("usage='tether ceph \(a.fsid) client.cinder'") && disks[1].contains("usage='tether ceph \(b.fsid) client.nova'"), "\(disks)")
            #expect(disks[2].contains("<secret type='iscsi' usage='tether-iscsi-vm-i'/>"), "\(disks[2])")
            let targets = disks.map { $0.components(separatedBy: "<target dev='")[1].prefix(3) }
            #expect(Set(targets).count == 3, "derived targets never collide: \(targets)")

            let vm = try VirtualMachine.define(name: "tether-vm", disks: disks, in: libvirt)
            defer { vm.remove() }
            try vm.start()
            #expect(vm.isRunning)
            // Read through the running domain: each disk with the secret libvirt resolved by usage.
            for (target, byte) in zip(targets, ["0xa1", "0xb2", "0xc3"]) {
                for command in ["read -P \(byte) 0 64k", "read -P 0x00 0 512", "write -P 0x5a 1M 64k", "flush"] {
                    let answer = try vm.qemuIO(target: String(target), command)
                    #expect(!answer.contains("Error"), "\(target) \(command): \(answer)")
                }
            }
            try vm.destroy()
            #expect(!vm.isRunning)
            // qemu-io's lines, in the order of the commands: per disk the pattern read, the wrong
            // pattern refused (so a read that reads nothing cannot pass), the write.
            let lines = vm.log.split(separator: "\n").filter {
                $0.hasPrefix("read ") || $0.hasPrefix("wrote ") || $0.hasPrefix("Pattern verification failed")
            }
            let perDisk = [
                "read 65536/65536 bytes at offset 0", "Pattern verification failed at offset 0, 512 bytes", "read 512/512 bytes at offset 0",
                "wrote 65536/65536 bytes at offset 1048576",
            ]
            let expected = Array(repeating: perDisk, count: 3).flatMap { $0 }
            #expect(lines.map(String.init) == expected, "QEMU's log: \(vm.log.suffix(3000))")
            // Read back after the stop by qemu-io through Tether's QEMU description.
            for volume in ["vm-a", "vm-b", "vm-i"] {
                let read = try QEMU.io(try #require(attachments[volume]), command: "read -P 0x5a 1M 64k")
                #expect(read.contains("read 65536/65536"), "\(volume): \(read)")
            }
            vm.remove()
            #expect(!(try libvirt.virsh(["list", "--all", "--name"]).output.contains("tether-vm")))

            for volume in ["vm-a", "vm-b", "vm-i"] {
                try tether(agent, ["detach", volume])
                try tether(agent, ["export", "delete", volume])
            }
            let secrets = try libvirt.secrets()
            #expect(!secrets.contains { $0.usage.hasPrefix("iscsi") }, "the iSCSI secret went with the detach: \(secrets)")
            let uuidA = CephCluster.derivedSecretUUID(fsid: UUID(uuidString: a.fsid)!, user: "cinder").uuidString.lowercased()
            #expect(Set(secrets.map(\.uuid)) == [uuidA, secretUUIDB.uuidString.lowercased()], "the ceph secrets stay while the clusters are registered: \(secrets)")
            #expect(try await client.attachments().isEmpty)
            for key in [a.cinderKey, novaKey] { #expect(!agent.log().contains(key.reveal { $0 })) }
        }
    }
}
