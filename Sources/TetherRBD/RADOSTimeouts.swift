/// Deadlines Tether sets on librados, so no Ceph call waits librados' defaults (300 s to mount).
public struct RADOSTimeouts: Sendable, Hashable {
    /// Connecting and authenticating. A wrong key on msgr2 is not refused but times out after this
    /// (LAB.md), so it bounds "unreachable or wrong credentials".
    public var connect: Duration
    /// Each monitor and OSD operation after that.
    public var operation: Duration

    public init(connect: Duration = .seconds(10), operation: Duration = .seconds(30)) {
        self.connect = connect
        self.operation = operation
    }
}
