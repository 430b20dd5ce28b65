import Foundation
import TetherCore

/// A TCG domain in a `LibvirtLab` whose disks are exactly the `<disk>` XML given (Tether's
/// `disk-xml`): no guest OS, it sits in the firmware (SeaBIOS finds nothing to boot), which is all
/// QEMU needs to open every disk and serve `qemu-io` on its monitor. For the VM lab and the
/// migration tests.
public struct VirtualMachine: Sendable {
    public let name: String
    public let libvirt: LibvirtLab

    /// A small diskless-boot domain: 64 MiB, one vCPU, TCG, a virtio-scsi controller for disks on
    /// the scsi bus (`tether disk-xml --bus scsi`), no USB, balloon or graphics.
    public static func domainXML(name: String, disks: [String]) -> String {
        """
        <domain type='qemu'>
          <name>\(DiskDescription.xmlEscaped(name))</name>
          <memory unit='MiB'>64</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
          <features><acpi/></features>
          <devices>
            <emulator>/usr/bin/qemu-system-x86_64</emulator>
        \(disks.joined(separator: "\n"))
            <controller type='scsi' index='0' model='virtio-scsi'/>
            <controller type='usb' model='none'/>
            <memballoon model='none'/>
          </devices>
        </domain>
        """
    }

    /// Defines the domain (persistent) with `disks`; `start()` boots it.
    public static func define(name: String, disks: [String], in libvirt: LibvirtLab) throws -> VirtualMachine {
        let file = libvirt.directory.file("\(name).xml")
        try domainXML(name: name, disks: disks).write(toFile: file, atomically: true, encoding: .utf8)
        try libvirt.check(["define", file])
        return VirtualMachine(name: name, libvirt: libvirt)
    }

    public func start() throws {
        try libvirt.check(["start", name])
    }

    /// Whether libvirt says it runs.
    public var isRunning: Bool {
        (try? libvirt.virsh(["domstate", name]).output.contains("running")) ?? false
    }

    /// The QEMU device id (libvirt's alias) of the disk whose target is `target` (`vdb`), from the
    /// running domain's XML.
    public func deviceID(target: String) throws -> String {
        let xml = try libvirt.check(["dumpxml", name])
        for disk in xml.components(separatedBy: "<disk ").dropFirst() {
            let body = disk.components(separatedBy: "</disk>")[0]
            guard body.contains("<target dev='\(target)'") else { continue }
            if let alias = body.components(separatedBy: "<alias name='").dropFirst().first?.components(separatedBy: "'").first {
                return alias
            }
        }
        throw TetherError(.notFound, "domain \(name) has no disk \(target) with an alias: \(xml)")
    }

    /// Runs a qemu-io command (`read -P 0xaa 0 64k`) inside the running QEMU on the disk `target`,
    /// through the HMP monitor: the guest's own block backend, with the secret libvirt resolved.
    /// The monitor answers only errors (an unknown device); qemu-io's own lines go to QEMU's
    /// stdout, which is `log` (flushed at the latest when QEMU exits).
    @discardableResult
    public func qemuIO(target: String, _ command: String) throws -> String {
        try libvirt.check(["qemu-monitor-command", "--hmp", name, "qemu-io -d \(try deviceID(target: target)) \"\(command)\""])
    }

    /// QEMU's stdout and stderr, as the lab's libvirtd keeps them (stdio_handler = "file").
    public var log: String {
        (try? String(contentsOfFile: libvirt.directory.file("log/domains/qemu/\(name).log"), encoding: .utf8)) ?? ""
    }

    /// Stops QEMU (SIGTERM, so it flushes and closes its disks: there is no guest to shut down).
    public func destroy() throws {
        try libvirt.check(["destroy", name, "--graceful"])
    }

    /// Stops it if it runs and removes its definition; what is already gone is fine.
    public func remove() {
        // Cleanup after a failed test: each step may find the domain already stopped or gone.
        _ = try? libvirt.virsh(["destroy", name])
        _ = try? libvirt.virsh(["undefine", name])
    }
}
