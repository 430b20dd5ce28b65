import Foundation
import TetherAPI
import TetherCore
import TetherLinux
import TetherTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// An iSCSI portal on loopback that completes TCP connections (the kernel does, from the
/// backlog) and never answers a login: the stall a hung target gives.
final class SilentPortal {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, bound, listen(fd, 16) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}

/// `tether --timeout` against a real tetherd whose attach outlasts it: tether gives up with
/// `timed_out` (exit 6) and says how to check, and tetherd carries on and finishes the operation
/// on its own (here: its login times out and the attach is rolled back).
@Suite(.tags(.integration), .timeLimit(.minutes(2)))
struct CLITimeoutTests {
    @Test func clientTimeoutLeavesTetherdToFinish() async throws {
        let portal = try SilentPortal()
        try await AgentProcess.with(tgtd: nil, extraISCSI: "connect_timeout = 2\nlogin_timeout = 6") { agent in
            let info = agent.directory.file("slow.json")
            let connectionInfo = """
                {"driver_volume_type": "iscsi", "data": {"volume_id": "slow-1", "target_portal": "127.0.0.1:\(portal.port)",
                 "target_iqn": "iqn.2026-11.io.tether:slow-1", "target_lun": 1}}
                """
            try connectionInfo.write(toFile: info, atomically: true, encoding: .utf8)
            let environment = ["TETHER_SOCKET": agent.socketPath]
            func tether(_ arguments: [String]) async throws -> ChildProcess.Exit {
                try await Lab.offPool { try ChildProcess.run(CLIFlowTests.binary, arguments, environment: environment, timeout: .seconds(60)) }
            }

            let attach = try await tether(["attach", "--connection-info", info, "--timeout", "2", "--json"])
            #expect(attach.status == 6, "\(attach.stdout)\(attach.stderr)")
            #expect(attach.stdout.isEmpty)
            let error = try JSONDecoder().decode(ErrorBody.self, from: Data(attach.stderr.utf8)).error
            #expect(error.code == "timed_out")
            #expect(error.hint?.contains("tether show slow-1") == true, "\(error.hint ?? "")")

            // tetherd is still serving, and finishes the attach it was given: its login times out
            // and it rolls back, so the volume ends up not attached (not found, exit 3).
            #expect(try await tether(["health"]).status == 0)
            var show = try await tether(["show", "slow-1", "--json"])
            let deadline = ContinuousClock.now.advanced(by: .seconds(60))
            while show.status != 3, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(500))
                show = try await tether(["show", "slow-1", "--json"])
            }
            #expect(show.status == 3, "\(show.stdout)\(show.stderr)")
            #expect(agent.log().contains("slow-1"))
        }
    }
}
