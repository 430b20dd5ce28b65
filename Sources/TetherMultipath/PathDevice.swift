/// One path's block device (an sdX) as sysfs shows it: what multipath groups and checks.
public struct PathDevice: Sendable, Hashable, CustomStringConvertible {
    /// The kernel name, "sdb".
    public var name: String
    /// The SCSI device's sysfs directory (…/H:C:T:L); it holds `wwid`, `delete` and `rescan`.
    public var scsiDirectory: String
    /// The LUN's identity; nil when the device reports none (no VPD page 0x83).
    public var wwid: WWID?
    public var sizeBytes: UInt64
    public var readOnly: Bool

    public init(name: String, scsiDirectory: String, wwid: WWID?, sizeBytes: UInt64, readOnly: Bool) {
        self.name = name
        self.scsiDirectory = scsiDirectory
        self.wwid = wwid
        self.sizeBytes = sizeBytes
        self.readOnly = readOnly
    }

    /// The block device's own sysfs directory, holding `size` and `ro`.
    public var blockDirectory: String { "\(scsiDirectory)/block/\(name)" }

    public var description: String { name }
}
