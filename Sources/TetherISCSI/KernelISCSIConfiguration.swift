import TetherMultipath

/// Where the kernel initiator keeps its state and how long each step may take.
public struct KernelISCSIConfiguration: Sendable {
    /// The sysfs and /dev trees: "/" on a node; a test or lab guest may use another root.
    public var paths: SystemPaths
    /// Where open-iscsi keeps node records, tried in order: Debian and Ubuntu build it with
    /// /etc/iscsi, upstream and Fedora with /var/lib/iscsi (its `dbroot`).
    public var nodeDirectories: [String]
    /// The open-iscsi iface records use; "default" is TCP through the routing table.
    public var iface: String
    /// Where the udev rules read which volume a WWID is (udev/60-tether.rules).
    public var volumeMapDirectory: String
    public var timeouts: KernelISCSITimeouts
    public var multipathTimeouts: Multipath.Timeouts

    public init(
        root: String = "/", nodeDirectories: [String]? = nil, iface: String = "default", timeouts: KernelISCSITimeouts = KernelISCSITimeouts(),
        multipathTimeouts: Multipath.Timeouts = Multipath.Timeouts()
    ) {
        let base = root.hasSuffix("/") ? String(root.dropLast()) : root
        self.paths = SystemPaths(root: root)
        self.nodeDirectories = nodeDirectories ?? ["\(base)/etc/iscsi/nodes", "\(base)/var/lib/iscsi/nodes"]
        self.iface = iface
        self.volumeMapDirectory = "\(base)/run/tether/by-wwid"
        self.timeouts = timeouts
        self.multipathTimeouts = multipathTimeouts
    }
}

/// Deadlines of the kernel initiator's steps. Waits end early on the udev event they wait for.
public struct KernelISCSITimeouts: Sendable, Hashable {
    /// One iscsiadm command other than a login.
    public var command: Duration
    /// `iscsiadm --login`: iscsid retries an unreachable portal (node.session.initial_login_retry_max
    /// times node.conn[0].timeo.login_timeout, 8 x 15 s by default) before it answers.
    public var login: Duration
    /// From a successful login until its session shows in sysfs.
    public var session: Duration
    /// From the LUN scan until its block device shows in sysfs.
    public var device: Duration
    /// Until a device the target exports read-write stops being read-only.
    public var writable: Duration
    /// Until udev made the stable names of a new device; the raw /dev name is used after it.
    public var stableName: Duration
    /// `blockdev --flushbufs`: writes to a slow target may take this long.
    public var flush: Duration
    /// From deleting the SCSI devices until they are gone from sysfs.
    public var removal: Duration

    public init(
        command: Duration = .seconds(30), login: Duration = .seconds(150), session: Duration = .seconds(10), device: Duration = .seconds(30),
        writable: Duration = .seconds(10), stableName: Duration = .seconds(5), flush: Duration = .seconds(120), removal: Duration = .seconds(30)
    ) {
        self.command = command
        self.login = login
        self.session = session
        self.device = device
        self.writable = writable
        self.stableName = stableName
        self.flush = flush
        self.removal = removal
    }
}
