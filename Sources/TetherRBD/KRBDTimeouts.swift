/// Deadlines of the kernel RBD connector.
public struct KRBDTimeouts: Sendable, Hashable {
    /// Reaching the monitors and authenticating: sent to the kernel as `mount_timeout`, so the add
    /// write fails with ETIMEDOUT after it instead of libceph's 60 s. Whole seconds, at least 1.
    public var connect: Duration
    /// The device node and udev's links after the kernel mapped the image.
    public var device: Duration
    /// The mapping going away after a remove.
    public var unmap: Duration

    public init(connect: Duration = .seconds(10), device: Duration = .seconds(30), unmap: Duration = .seconds(30)) {
        self.connect = connect
        self.device = device
        self.unmap = unmap
    }
}
