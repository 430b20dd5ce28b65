/// A device-mapper multipath map as sysfs shows it under /sys/block/dm-N.
public struct MultipathMap: Sendable, Hashable, CustomStringConvertible {
    /// The kernel name, "dm-3".
    public var kernelName: String
    /// The map name (`dm/name`): the WWID, or a friendly name such as "mpatha".
    public var name: String
    /// The dm uuid (`dm/uuid`), "mpath-<udev WWID>" for maps multipathd made.
    public var uuid: String
    /// The path devices under the map (`slaves/`), "sdb", "sdc".
    public var slaves: [String]
    public var sizeBytes: UInt64
    public var readOnly: Bool

    public init(kernelName: String, name: String, uuid: String, slaves: [String], sizeBytes: UInt64, readOnly: Bool) {
        self.kernelName = kernelName
        self.name = name
        self.uuid = uuid
        self.slaves = slaves
        self.sizeBytes = sizeBytes
        self.readOnly = readOnly
    }

    /// The LUN this map multipaths, read back from its uuid.
    public var wwid: WWID? {
        uuid.hasPrefix("mpath-") ? WWID(udev: String(uuid.dropFirst("mpath-".count))) : nil
    }

    public var description: String { "\(name) (\(kernelName))" }
}
