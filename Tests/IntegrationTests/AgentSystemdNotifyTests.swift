import Foundation
import TetherTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// tetherd as a `Type=notify` service: the real agent tells a socket standing in for systemd
/// READY=1 once its API socket is published, and STOPPING=1 when SIGTERM begins the shutdown.
@Suite(.tags(.integration), .timeLimit(.minutes(1)))
struct AgentSystemdNotifyTests {
    @Test func readyOnceServingThenStoppingOnSIGTERM() async throws {
        let directory = try TemporaryDirectory(prefix: "sdn")
        defer { directory.remove() }
        let path = directory.file("notify")
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        func receive() -> String {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(fd, &buffer, buffer.count, 0)
            return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : ""
        }

        let agent = try AgentProcess(tgtd: nil, environment: ["NOTIFY_SOCKET": path])
        defer { agent.remove() }
        // AgentProcess returns once the socket answers: READY=1 was sent by then.
        #expect(receive() == "READY=1\nSTATUS=serving \(agent.socketPath)")
        #expect(agent.stop() == 0)
        #expect(receive() == "STOPPING=1")
    }
}
