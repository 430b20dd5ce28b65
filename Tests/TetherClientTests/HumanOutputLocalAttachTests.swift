import Testing
import TetherAPI
import TetherCore

@testable import TetherClient

/// local-attach's human output starts with what a script takes: the device path in kernel mode,
/// the disk XML in network mode.
@Suite struct HumanOutputLocalAttachTests {
    static func item(mode: AttachMode, devicePath: String?, diskXML: String?, details: JSONValue? = nil) -> LocalAttachmentBody {
        let attachment = AttachmentBody(
            id: "a1", volumeID: "v1", protocolName: "rbd", mode: mode, state: "attached", target: "rbd/volume-v1",
            createdAt: "2025-01-01T00:00:00Z", paths: [], wwid: nil, sizeBytes: 1 << 30, devicePath: devicePath, diskXML: diskXML, qemu: nil,
            details: details)
        return LocalAttachmentBody(
            volumeID: "v1", flow: "attachments", microversion: "3.70", cinderAttachmentID: "c1", state: "attached", readOnly: false,
            attachment: attachment)
    }

    /// As tetherd answers a krbd attachment: device_path the kernel's name, the stable one in the
    /// handle's details (the guest scenario cinder-kernel checks the real answer).
    @Test(arguments: [true, false])
    func kernelModeLeadsWithTheStableName(created: Bool) {
        let details: JSONValue = ["kind": "kernel_rbd", "device": "/dev/rbd0", "by_tether": "/dev/disk/by-tether/v1"]
        let text = HumanOutput.localAttachment(Self.item(mode: .kernel, devicePath: "/dev/rbd0", diskXML: nil, details: details), created: created)
        #expect(text.split(separator: "\n", omittingEmptySubsequences: false).first == "/dev/disk/by-tether/v1")
    }

    /// No stable name (udev's rules not installed): the kernel's device.
    @Test func withoutAStableNameTheDevicePath() {
        let text = HumanOutput.localAttachment(Self.item(mode: .kernel, devicePath: "/dev/rbd0", diskXML: nil), created: true)
        #expect(text.hasPrefix("/dev/rbd0\n"))
    }

    @Test func networkModeLeadsWithTheDiskXML() {
        let xml = "<disk type='network' device='disk'>\n  <source protocol='rbd' name='rbd/volume-v1'/>\n</disk>\n"
        let text = HumanOutput.localAttachment(Self.item(mode: .network, devicePath: nil, diskXML: xml), created: true)
        #expect(text.hasPrefix("<disk type='network' device='disk'>\n  <source protocol='rbd' name='rbd/volume-v1'/>\n</disk>\n\n"))
    }

    @Test func withoutAnAttachmentTheHeadlineComesFirst() {
        let item = LocalAttachmentBody(
            volumeID: "v1", flow: "attachments", microversion: "3.70", cinderAttachmentID: nil, state: "creating", readOnly: false, attachment: nil)
        #expect(HumanOutput.localAttachment(item, created: true).hasPrefix("local-attached volume v1"))
    }
}
