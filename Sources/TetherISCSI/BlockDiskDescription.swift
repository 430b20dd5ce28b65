import TetherCore

/// A host block device described for QEMU: libvirt disk XML and `-blockdev` JSON.
struct BlockDiskDescription {
    /// The name QEMU opens: a stable udev name when one exists.
    var devicePath: String
    var attachmentID: String
    var volumeID: String
    var readOnly: Bool

    var libvirtXML: String {
        let escape = DiskDescription.xmlEscaped
        var lines = [
            "<disk type='block' device='disk'>",
            "  <driver name='qemu' type='raw' cache='none' io='native'/>",
            "  <source dev='\(escape(devicePath))'/>",
            "  <target dev='vdb' bus='virtio'/>",
        ]
        if readOnly { lines.append("  <readonly/>") }
        lines += ["  <serial>\(escape(String(volumeID.prefix(20))))</serial>", "</disk>"]
        return lines.joined(separator: "\n") + "\n"
    }

    var qemuBlockdev: JSONValue {
        [
            "driver": "raw",
            "node-name": .string(DiskDescription.qemuID("tether", attachmentID)),
            "read-only": .bool(readOnly),
            // aio=native needs O_DIRECT, which cache.direct asks for.
            "file": [
                "driver": "host_device",
                "filename": .string(devicePath),
                "aio": "native",
                "cache": ["direct": true, "no-flush": false],
            ],
        ]
    }
}
