import TetherCore

/// A SCSI logical unit's identity, in both of the spellings Linux uses.
///
/// The kernel's sysfs `device/wwid` names the designator type in words ("naa.6001405…",
/// "eui.…", "t10.LIO-ORG …", or a SCSI name string); udev's `ID_SERIAL`, the
/// /dev/disk/by-id/scsi-* links and dm-multipath's map uuids ("mpath-36001405…") use the type
/// number as scsi_id prints it (3 NAA, 2 EUI-64, 1 T10 vendor id, 8 SCSI name).
public struct WWID: Sendable, Hashable, CustomStringConvertible {
    /// The kernel's spelling, as in sysfs `device/wwid`.
    public let sysfs: String

    public init(sysfs: String) {
        self.sysfs = sysfs.trimmedLine
    }

    /// Reads udev's spelling ("36001405…"); nil when it has no known type digit.
    public init?(udev text: String) {
        let value = text.trimmedLine
        guard let digit = value.first, value.count > 1 else { return nil }
        let rest = value.dropFirst()
        switch digit {
        case "3": self.init(sysfs: "naa." + rest)
        case "2": self.init(sysfs: "eui." + rest)
        // udev replaced blanks with underscores; the kernel keeps the blanks.
        case "1": self.init(sysfs: "t10." + rest.replacingUnderscores())
        case "8": self.init(sysfs: String(rest))
        default: return nil
        }
    }

    /// udev's and dm-multipath's spelling.
    public var udev: String {
        if sysfs.hasPrefix("naa.") { return "3" + sysfs.dropFirst(4) }
        if sysfs.hasPrefix("eui.") { return "2" + sysfs.dropFirst(4) }
        if sysfs.hasPrefix("t10.") {
            // scsi_id squeezes each run of blanks into one underscore.
            let words = sysfs.dropFirst(4).split(whereSeparator: { $0 == " " || $0 == "\t" })
            return "1" + words.joined(separator: "_")
        }
        return "8" + sysfs
    }

    /// The dm uuid multipathd gives this LUN's map.
    public var multipathUUID: String { "mpath-" + udev }

    /// The udev link name under /dev/disk/by-id that names the LUN by its NAA, when it has one.
    public var wwnLinkName: String? {
        sysfs.hasPrefix("naa.") ? "wwn-0x" + sysfs.dropFirst(4) : nil
    }

    public var description: String { sysfs }

    /// Whether `text` names this LUN in either spelling.
    public func matches(_ text: String) -> Bool {
        let value = text.trimmedLine
        return value == sysfs || value == udev || value.lowercased() == sysfs.lowercased()
    }
}

extension Substring {
    fileprivate func replacingUnderscores() -> String {
        String(map { $0 == "_" ? " " : $0 })
    }
}
