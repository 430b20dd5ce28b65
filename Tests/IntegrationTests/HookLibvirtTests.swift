import Foundation
import TetherCore
import TetherTesting
import Testing

/// A private libvirtd running Tether's qemu hook from its own /etc/libvirt/hooks/qemu.d
/// (scripts/libvirt-lab.sh with LIBVIRT_LAB_HOOK_TETHER): `virsh start`, `destroy`, `save` and
/// `restore` go through it to a real tetherd.
@Suite(
    .tags(.integration), .enabled(if: Lab.runs(.libvirtd, .virsh, .qemuSystem)), .lab(.libvirtd, .virsh, .qemuSystem), .timeLimit(.minutes(3)),
    .serialized)
struct HookLibvirtTests {
    static func domain(_ name: String, disks: String = "") -> String {
        """
        <domain type='qemu'>
          <name>\(name)</name>
          <memory unit='MiB'>32</memory>
          <os><type arch='x86_64'>hvm</type></os>
          <features><acpi/></features>
          <devices>
            <emulator>/usr/bin/qemu-system-x86_64</emulator>
        \(disks)
          </devices>
        </domain>
        """
    }

    static func define(_ libvirt: LibvirtLab, _ xml: String, in directory: TemporaryDirectory) throws {
        let file = directory.file("domain-\(UUID().uuidString).xml")
        try xml.write(toFile: file, atomically: true, encoding: .utf8)
        let defined = try libvirt.virsh(["define", file])
        #expect(defined.status == 0, "\(defined.output)")
    }

    @Test func startStopSaveAndRestoreGoThroughTheHook() async throws {
        try await AgentProcess.with(tgtd: nil) { agent in
            let hook = LibvirtLab.Hook(tether: HookAgentTests.tether, socket: agent.socketPath, timeoutSeconds: 3)
            try await LibvirtLab.with(hook: hook) { libvirt in
                try await TemporaryDirectory.with(prefix: "hlv") { directory in
                    let disk = "<disk type='block' device='disk'><source dev='/dev/disk/by-tether/vol-nobody'/><target dev='vdb' bus='virtio'/></disk>"
                    try Self.define(libvirt, Self.domain("hook-unknown", disks: disk), in: directory)
                    let refused = try libvirt.virsh(["start", "hook-unknown"])
                    #expect(refused.status != 0)
                    #expect(refused.output.contains("vol-nobody") && refused.output.contains("tetherd knows no connection"), "\(refused.output)")

                    try Self.define(libvirt, Self.domain("hook-plain"), in: directory)
                    let started = try libvirt.virsh(["start", "hook-plain"])
                    #expect(started.status == 0, "\(started.output)")
                    #expect(agent.log().contains("no kernel-mode Tether disk") && agent.log().contains("hook-plain"))

                    // restore begin with no change: the hook prints nothing and libvirt keeps its XML.
                    let image = directory.file("hook-plain.save")
                    let saved = try libvirt.virsh(["save", "hook-plain", image])
                    #expect(saved.status == 0, "\(saved.output)")
                    let restored = try libvirt.virsh(["restore", image])
                    #expect(restored.status == 0, "\(restored.output)")
                    #expect(agent.log().contains("no RBD or iSCSI CHAP disk; XML unchanged"))
                    #expect(try libvirt.virsh(["domstate", "hook-plain"]).output.contains("running"))

                    let destroyed = try libvirt.virsh(["destroy", "hook-plain"])
                    #expect(destroyed.status == 0, "\(destroyed.output)")
                    #expect(agent.log().contains("nothing the hook attached"))

                    // tetherd down: the start fails within the hook's bound, saying why.
                    agent.stop()
                    let began = Date()
                    let down = try libvirt.virsh(["start", "hook-plain"])
                    #expect(down.status != 0)
                    #expect(down.output.contains("cannot reach tetherd"), "\(down.output)")
                    #expect(Date().timeIntervalSince(began) < 10)
                }
            }
        }
    }
}
