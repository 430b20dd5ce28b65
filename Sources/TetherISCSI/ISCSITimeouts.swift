/// Deadlines for the userspace initiator. Every libiscsi call runs under one of them.
public struct ISCSITimeouts: Sendable, Hashable {
    /// TCP connect to a portal. An unreachable portal fails after this.
    public var connect: Duration
    /// Login (including CHAP) or discovery once connected.
    public var login: Duration
    /// One SCSI command (REPORT LUNS, INQUIRY, READ CAPACITY, a read or write).
    public var command: Duration

    public init(connect: Duration = .seconds(5), login: Duration = .seconds(10), command: Duration = .seconds(10)) {
        self.connect = connect
        self.login = login
        self.command = command
    }
}
