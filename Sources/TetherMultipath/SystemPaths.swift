/// Where the kernel's trees are. A node uses "/"; tests and lab guests may put them elsewhere.
public struct SystemPaths: Sendable, Hashable {
    /// The sysfs mount, "/sys" on a node.
    public var sysfs: String
    /// The device directory, "/dev" on a node.
    public var dev: String
    /// multipath's wwids file (its `wwids_file`), "/etc/multipath/wwids" on a node.
    public var wwids: String

    /// `sys` and `dev` below `root`.
    public init(root: String = "/") {
        let base = root.hasSuffix("/") ? String(root.dropLast()) : root
        self.init(sysfs: base + "/sys", dev: base + "/dev", wwids: base + "/etc/multipath/wwids")
    }

    public init(sysfs: String, dev: String, wwids: String = "/etc/multipath/wwids") {
        self.sysfs = sysfs
        self.dev = dev
        self.wwids = wwids
    }

    /// /sys/block: one entry per block device (sdX, dm-N).
    public var block: String { sysfs + "/block" }

    /// The device node of a kernel block device name: "sdb" -> /dev/sdb.
    public func deviceNode(_ name: String) -> String { "\(dev)/\(name)" }

    /// The kernel name in a device node path: /dev/sdb -> "sdb"; nil for other paths.
    public func kernelName(ofDeviceNode path: String) -> String? {
        let prefix = dev + "/"
        guard path.hasPrefix(prefix) else { return nil }
        let name = path.dropFirst(prefix.count)
        return name.isEmpty || name.contains("/") ? nil : String(name)
    }
}
