import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// systemd's readiness protocol (`sd_notify(3)`): one datagram of `KEY=VALUE` lines to the unix
/// socket named by `$NOTIFY_SOCKET`. Written here rather than linking libsystemd for one call;
/// the protocol is stable and documented in `sd_notify(3)`.
public struct SystemdNotify: Sendable {
    /// The socket path; an abstract socket when it starts with "@". Nil outside systemd.
    public let socketPath: String?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let path = environment["NOTIFY_SOCKET"]
        socketPath = (path?.isEmpty ?? true) ? nil : path
    }

    /// The watchdog interval systemd asked for (`$WATCHDOG_USEC`), when it is meant for this process.
    public static func watchdogInterval(environment: [String: String] = ProcessInfo.processInfo.environment) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], pid != String(getpid()) { return nil }
        return .microseconds(usec)
    }

    /// `READY=1`: the socket and the journal are up.
    public func ready(status: String) throws { try send("READY=1\nSTATUS=\(status)") }
    /// `STOPPING=1`: shutdown has begun.
    public func stopping() throws { try send("STOPPING=1") }
    /// `WATCHDOG=1`: the service loop is alive.
    public func watchdog() throws { try send("WATCHDOG=1") }

    /// Sends one notification; nothing when not started by systemd.
    /// The corresponding C function is `sd_notify`.
    public func send(_ message: String) throws {
        guard let socketPath else { return }
        var path = Array(socketPath.utf8)
        guard !path.contains(0) else { throw Failure(message: "NOTIFY_SOCKET holds a NUL byte") }
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        var address = sockaddr_un()
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw Failure(message: "NOTIFY_SOCKET is longer than a unix socket address")
        }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(message: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // An abstract address is measured, not NUL-terminated.
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count + (path.first == 0 ? 0 : 1))
        let bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddress in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sockaddress, length) }
            }
        }
        guard sent == bytes.count else { throw Failure(message: "sendto \(socketPath): \(String(cString: strerror(errno)))") }
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { "sd_notify: \(message)" }
    }
}
