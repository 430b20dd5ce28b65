import TetherCore

/// An iSCSI LUN described for QEMU's own initiator: libvirt disk XML and `-blockdev` JSON.
struct ISCSIDiskDescription {
    var path: ISCSIPath
    var initiator: String
    var chap: CHAPCredentials?
    var secretFile: String?
    var attachmentID: String
    var volumeID: String
    var readOnly: Bool

    var secretID: String { DiskDescription.qemuID("sec", attachmentID) }

    /// The CHAP password is a libvirt secret of usage type iscsi, named per volume (the same on
    /// every node): tetherd defines it when `[libvirt] uri` is set, else the caller does (its
    /// value is in `secretFile`).
    var libvirtSecretUsage: String { Self.libvirtSecretUsage(volumeID: volumeID) }

    static func libvirtSecretUsage(volumeID: String) -> String { "tether-iscsi-\(volumeID)" }

    var libvirtXML: String {
        let escape = DiskDescription.xmlEscaped
        var lines = [
            "<disk type='network' device='disk'>",
            "  <driver name='qemu' type='raw' cache='none' io='native'/>",
            "  <source protocol='iscsi' name='\(escape(path.iqn))/\(path.lun)'>",
            "    <host name='\(escape(path.portal.host))' port='\(path.portal.port)'/>",
            "    <initiator><iqn name='\(escape(initiator))'/></initiator>",
        ]
        if let chap {
            lines += [
                "    <auth username='\(escape(chap.username))'>",
                "      <secret type='iscsi' usage='\(escape(libvirtSecretUsage))'/>",
                "    </auth>",
            ]
        }
        lines += ["  </source>", "  <target dev='vdb' bus='virtio'/>"]
        if readOnly { lines.append("  <readonly/>") }
        lines += ["  <serial>\(escape(String(volumeID.prefix(20))))</serial>", "</disk>"]
        return lines.joined(separator: "\n") + "\n"
    }

    var qemuBlockdev: JSONValue {
        var file: [String: JSONValue] = [
            "driver": "iscsi",
            "transport": "tcp",
            "portal": .string(path.portal.description),
            "target": .string(path.iqn),
            "lun": .int(Int64(path.lun)),
            "initiator-name": .string(initiator),
            "header-digest": "none",
        ]
        if let chap, secretFile != nil {
            file["user"] = .string(chap.username)
            file["password-secret"] = .string(secretID)
        }
        return [
            "driver": "raw",
            "node-name": .string(DiskDescription.qemuID("tether", attachmentID)),
            "read-only": .bool(readOnly),
            "file": .object(file),
        ]
    }

    var qemuObjects: [JSONValue] {
        guard let secretFile else { return [] }
        return [["qom-type": "secret", "id": .string(secretID), "file": .string(secretFile), "format": "raw"]]
    }
}
