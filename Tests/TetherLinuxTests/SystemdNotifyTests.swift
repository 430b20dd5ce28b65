import Foundation
import TetherLinux
import TetherFakes
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct SystemdNotifyTests {
    /// A datagram socket standing in for systemd's notification socket.
    static func receiver(at path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    static func receive(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &buffer, buffer.count, 0)
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : ""
    }

    @Test func readyAndStoppingReachTheNotifySocket() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("notify")
        let fd = try Self.receiver(at: path)
        defer { close(fd) }
        let notify = SystemdNotify(environment: ["NOTIFY_SOCKET": path])
        try notify.ready(status: "serving /run/tether/tetherd.sock")
        #expect(Self.receive(fd) == "READY=1\nSTATUS=serving /run/tether/tetherd.sock")
        try notify.stopping()
        #expect(Self.receive(fd) == "STOPPING=1")
    }

    @Test func outsideSystemdNothingIsSent() throws {
        try SystemdNotify(environment: [:]).ready(status: "x")
        #expect(SystemdNotify(environment: ["NOTIFY_SOCKET": ""]).socketPath == nil)
    }

    @Test func aMissingSocketIsAnError() throws {
        #expect(throws: SystemdNotify.Failure.self) {
            try SystemdNotify(environment: ["NOTIFY_SOCKET": "/nonexistent/notify"]).ready(status: "x")
        }
    }

    @Test func watchdogIntervalIsForThisProcessOnly() {
        #expect(SystemdNotify.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000"]) == .seconds(30))
        #expect(SystemdNotify.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"]) == nil)
        #expect(SystemdNotify.watchdogInterval(environment: ["WATCHDOG_USEC": "x"]) == nil)
    }
}
