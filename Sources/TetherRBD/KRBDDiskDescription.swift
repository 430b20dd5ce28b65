import TetherCore

/// A krbd block device described for QEMU: libvirt `<disk type='block'>` XML and a `host_device`
/// `-blockdev`, both naming the device by its stable path so they survive renumbering.
struct KRBDDiskDescription {
    var path: String
    var attachmentID: String
    var volumeID: String
    var readOnly: Bool
    var discard: Bool

    var libvirtXML: String {
        let escape = DiskDescription.xmlEscaped
        var lines = [
            "<disk type='block' device='disk'>",
            "  <driver name='qemu' type='raw' cache='none' io='native'\(discard ? " discard='unmap'" : "")/>",
            "  <source dev='\(escape(path))'/>",
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
            "discard": discard ? "unmap" : "ignore",
            "file": [
                "driver": "host_device",
                "filename": .string(path),
                "aio": "native",
                "cache": ["direct": true],
                "read-only": .bool(readOnly),
            ],
        ]
    }
}
