/// A host block device described for QEMU: libvirt `<disk type='block'>` XML and a `host_device`
/// `-blockdev`, both naming the device by the path given (a stable udev name when one exists, so
/// they survive renumbering). The kernel iSCSI and krbd connectors both describe their devices so.
public struct BlockDiskDescription: Sendable {
    public var devicePath: String
    public var attachmentID: String
    public var volumeID: String
    public var readOnly: Bool
    public var discard: Bool

    public init(devicePath: String, attachmentID: String, volumeID: String, readOnly: Bool, discard: Bool = false) {
        self.devicePath = devicePath
        self.attachmentID = attachmentID
        self.volumeID = volumeID
        self.readOnly = readOnly
        self.discard = discard
    }

    public var libvirtXML: String {
        let escape = DiskDescription.xmlEscaped
        var lines = [
            "<disk type='block' device='disk'>",
            "  <driver name='qemu' type='raw' cache='none' io='native'\(discard ? " discard='unmap'" : "")/>",
            "  <source dev='\(escape(devicePath))'/>",
            "  <target dev='vdb' bus='virtio'/>",
        ]
        if readOnly { lines.append("  <readonly/>") }
        lines += ["  <serial>\(escape(String(volumeID.prefix(20))))</serial>", "</disk>"]
        return lines.joined(separator: "\n") + "\n"
    }

    public var qemuBlockdev: JSONValue {
        [
            "driver": "raw",
            "node-name": .string(DiskDescription.qemuID("tether", attachmentID)),
            "read-only": .bool(readOnly),
            "discard": discard ? "unmap" : "ignore",
            // aio=native needs O_DIRECT, which cache.direct asks for.
            "file": [
                "driver": "host_device",
                "filename": .string(devicePath),
                "aio": "native",
                "cache": ["direct": true],
                "read-only": .bool(readOnly),
            ],
        ]
    }
}
