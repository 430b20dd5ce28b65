import Foundation
import TetherCeph
import TetherCore

/// An RBD image described for QEMU's own librbd: libvirt disk XML and `-blockdev` JSON, each
/// naming the image's own cluster (conf, monitors, user, secret), so clusters never mix.
struct RBDDiskDescription {
    var cluster: CephCluster
    var user: CephUser
    var pool: String
    var image: String
    var confPath: String
    var secret: LibvirtSecretReference
    var keyFile: String
    var attachmentID: String
    var volumeID: String
    var readOnly: Bool
    var discard: Bool

    var secretID: String { DiskDescription.qemuID("sec", attachmentID) }

    var libvirtXML: String {
        let escape = DiskDescription.xmlEscaped
        var lines = [
            "<disk type='network' device='disk'>",
            "  <driver name='qemu' type='raw' cache='none'\(discard ? " discard='unmap'" : "")/>",
            "  <source protocol='rbd' name='\(escape(pool))/\(escape(image))'>",
        ]
        for portal in cluster.portals {
            lines.append("    <host name='\(escape(portal.host))' port='\(portal.port)'/>")
        }
        lines += [
            "    <config file='\(escape(confPath))'/>",
            "    <auth username='\(escape(user.name))'>",
            "      \(secret.xmlElement)",
            "    </auth>",
            "  </source>",
            "  <target dev='vdb' bus='virtio'/>",
        ]
        if readOnly { lines.append("  <readonly/>") }
        lines += ["  <serial>\(escape(String(volumeID.prefix(20))))</serial>", "</disk>"]
        return lines.joined(separator: "\n") + "\n"
    }

    /// The conf carries the cluster's `mon host` in Ceph's own syntax (v2 and v1), which QEMU's
    /// `server` list cannot express; the key comes from the secret object, not a keyring lookup.
    var qemuBlockdev: JSONValue {
        [
            "driver": "raw",
            "node-name": .string(DiskDescription.qemuID("tether", attachmentID)),
            "read-only": .bool(readOnly),
            "discard": discard ? "unmap" : "ignore",
            "file": [
                "driver": "rbd",
                "pool": .string(pool),
                "image": .string(image),
                "conf": .string(confPath),
                "user": .string(user.name),
                "auth-client-required": ["cephx"],
                "key-secret": .string(secretID),
            ],
        ]
    }

    var qemuObjects: [JSONValue] {
        [["qom-type": "secret", "id": .string(secretID), "file": .string(keyFile), "format": "base64"]]
    }
}
