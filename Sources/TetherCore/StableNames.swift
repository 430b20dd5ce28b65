/// The names udev gives Tether's volumes (`udev/60-tether.rules`, `udev/60-tether-rbd.rules`),
/// and the map files the rules read to learn which volume a device is.
///
/// A device carries no volume id: an iSCSI LUN's WWID may be a hash of it, an RBD image's name
/// anything. So whoever attaches writes `<mapDirectory>/<file name of key>` holding
/// `TETHER_VOLUME_ID=<id>` before the device appears (or before a `change` uevent), and removes it
/// at detach. The key is:
/// - iSCSI or multipath: the WWID as udev's `ID_SERIAL` and multipath's WWID write it, e.g.
///   "36001405…" for the sysfs `naa.6001405…` (see `udevSerial(wwid:)`);
/// - krbd: "rbd:<fsid>/<pool>[/<namespace>]/<image>[@<snapshot>]" (see `rbdKey`).
///
/// In TetherCore because three parts build these names and must agree: the kernel iSCSI and
/// krbd connectors, and `tether udev rbd` (Sources/tether/UdevCommand.swift), run by the rules.
public enum StableNames {
    /// Where the map files live; tmpfs, so they go with the mappings at reboot.
    public static let defaultMapDirectory = "/run/tether/by-wwid"
    public static let byTetherDirectory = "/dev/disk/by-tether"
    /// The udev property a map file sets.
    public static let volumeIDProperty = "TETHER_VOLUME_ID"

    /// `/dev/disk/by-tether/<volume id>`, nil for an id that cannot be a link name.
    public static func byTether(volumeID: String) -> String? {
        isUsableVolumeID(volumeID) ? "\(byTetherDirectory)/\(volumeID)" : nil
    }

    /// A volume id udev can put in a link name unchanged: 1-128 of A-Z a-z 0-9 `.` `_` `-`, not
    /// starting with `.` or `-`. Cinder's UUIDs are; other ids get no by-tether link.
    public static func isUsableVolumeID(_ id: String) -> Bool {
        guard (1...128).contains(id.utf8.count), let first = id.first, first != ".", first != "-" else { return false }
        return id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    /// The krbd device's name below /dev/rbd: `<cluster>/<pool>[/<namespace>]/<image>[@<snapshot>]`,
    /// each part as udev would write it (`linkSafe`). `cluster` is the registry's name, or the
    /// fsid when the cluster is not registered.
    public static func rbdName(cluster: String, pool: String, namespace: String = "", image: String, snapshot: String? = nil) -> String {
        var parts = [cluster, pool]
        if !namespace.isEmpty { parts.append(namespace) }
        var last = image
        if let snapshot, snapshot != "-" { last += "@\(snapshot)" }
        parts.append(last)
        return parts.map(linkSafe).joined(separator: "/")
    }

    /// `/dev/rbd/<rbdName>`: one per cluster, unlike Ceph's `/dev/rbd/<pool>/<image>`, which two
    /// clusters with the same pool and image share.
    public static func rbdPath(cluster: String, pool: String, namespace: String = "", image: String, snapshot: String? = nil) -> String {
        "/dev/rbd/" + rbdName(cluster: cluster, pool: pool, namespace: namespace, image: image, snapshot: snapshot)
    }

    /// The map key of an RBD image: "rbd:<fsid>/<pool>[/<namespace>]/<image>[@<snapshot>]", fsid in lower case.
    public static func rbdKey(fsid: String, pool: String, namespace: String = "", image: String, snapshot: String? = nil) -> String {
        var key = "rbd:\(fsid.lowercased())/\(pool)/"
        if !namespace.isEmpty { key += "\(namespace)/" }
        key += image
        if let snapshot, snapshot != "-" { key += "@\(snapshot)" }
        return key
    }

    /// The map key of a SCSI LUN from Tether's WWID (sysfs `device/wwid` form): what scsi_id puts in
    /// `ID_SERIAL` and multipath in `DM_UUID=mpath-<wwid>`, a designator type digit before the id:
    /// "naa.6001405ab" -> "36001405ab", "eui.0011" -> "20011", "t10.ATA  X" -> "1ATA_X".
    /// nil for other forms (SCSI name strings: scsi_id keeps their case, Tether's WWID does not).
    public static func udevSerial(wwid: String) -> String? {
        let lowered = wwid.lowercased()
        for (prefix, type) in [("naa.", "3"), ("eui.", "2")] where lowered.hasPrefix(prefix) {
            let id = lowered.dropFirst(prefix.count)
            return !id.isEmpty && id.allSatisfy(\.isHexDigit) ? type + id : nil
        }
        guard wwid.hasPrefix("t10.") else { return nil }
        // scsi_id --replace-whitespace: runs of blanks become one "_".
        let words = wwid.dropFirst(4).split(whereSeparator: \.isWhitespace)
        return words.isEmpty ? nil : "1" + words.joined(separator: "_")
    }

    /// `<directory>/<key as a file name>`.
    public static func mapFile(key: String, directory: String = defaultMapDirectory) -> String {
        "\(directory)/\(mapFileName(key: key))"
    }

    /// `key` as one path component: `%`, `/` and control characters as %XX, and a leading `.`.
    /// WWIDs from udev need none of that, so udev rules can use `$env{ID_SERIAL}` as the name.
    public static func mapFileName(key: String) -> String {
        var bytes: [UInt8] = []
        for (index, byte) in key.utf8.enumerated() {
            if byte == UInt8(ascii: "%") || byte == UInt8(ascii: "/") || byte < 0x20 || byte == 0x7f || (index == 0 && byte == UInt8(ascii: ".")) {
                bytes += Array("%\(hex(byte))".utf8)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// What a map file holds: one udev property line.
    public static func mapFileContents(volumeID: String) -> String {
        "\(volumeIDProperty)=\(volumeID)\n"
    }

    /// The volume a map file's text names (its first `TETHER_VOLUME_ID=` line), nil when it
    /// names none: what `mapFileContents` wrote, read back.
    public static func volumeID(inMapFile text: String) -> String? {
        let prefix = volumeIDProperty + "="
        guard let line = text.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix(prefix) }) else { return nil }
        let id = String(line.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
        return id.isEmpty ? nil : id
    }

    /// `text` as udev writes a substituted value into a link name (systemd 252 `udev_replace_whitespace`
    /// and `udev_replace_chars`): blank runs become one `_`, characters other than A-Z a-z 0-9
    /// `#+-.:=@_` and non-ASCII become `_`; "." and ".." become "_" and "__" so no part climbs out.
    public static func linkSafe(_ text: String) -> String {
        let words = text.split(whereSeparator: \.isWhitespace)
        var result = ""
        for character in words.joined(separator: "_") {
            if !character.isASCII || character.isLetter || character.isNumber || "#+-.:=@_".contains(character) {
                result.append(character)
            } else {
                result.append("_")
            }
        }
        if result == "." || result == ".." { result = String(repeating: "_", count: result.count) }
        return result.isEmpty ? "_" : result
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
    }
}
