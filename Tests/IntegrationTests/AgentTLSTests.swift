import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The TLS listener (`[api.tcp]`) of a real tetherd, with certificates openssl made for the
/// test: who the handshake refuses, what each role may do, the SIGHUP reload, and the `tether`
/// CLI's --agent. Loopback only, in the network namespace the test run was given.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.openssl)), .lab(.openssl), .timeLimit(.minutes(2)))
struct AgentTLSTests {
    /// A CA `ca` that signs the agent's certificate and the clients', and a tetherd whose
    /// listener trusts it: `reader-1` reads, `exporter-1` exports, `admin-1` does everything.
    struct Setup {
        let agent: AgentProcess
        let pki: TestPKI
        let port: Int
        let server: TestPKI.Identity

        var url: String { "https://127.0.0.1:\(port)" }

        func client(_ identity: TestPKI.Identity, ca: String? = nil) throws -> TetherAgentClient {
            let remote = try RemoteAgent(url: url, certificateFile: identity.certificate, keyFile: identity.key, caFile: ca ?? pki.paths("ca").certificate)
            return TetherAgentClient(transport: TLSHTTPClient(agent: remote, timeout: .seconds(20)))
        }
    }

    static func withAgent(keyMode: mode_t = 0o600, extraConfig: String = "", _ body: (Setup) async throws -> Void) async throws {
        try await TemporaryDirectory.with(prefix: "pki") { directory in
            let pki = TestPKI(directory: directory)
            try pki.authority("ca")
            let server = try pki.issue("server", commonName: "storage-1", by: "ca", alternativeNames: ["IP:127.0.0.1", "DNS:localhost"])
            #expect(chmod(server.key, keyMode) == 0)
            // The labs' range for listeners, reserved from ephemeral ports in test.sh's namespace.
            let port = Lab.randomPort()
            let config = listenerConfig(
                listen: "127.0.0.1:\(port)", server: server, pki: pki, roles: #"readers = ["reader-1"]\#nexporters = ["exporter-1"]\#nadmins = ["admin-1"]"#)
            try await AgentProcess.with(tgtd: nil, extraConfig: extraConfig + "\n" + config) { agent in
                try await waitForListener(agent)
                try await body(Setup(agent: agent, pki: pki, port: port, server: server))
            }
        }
    }

    /// `[api.tcp]` with the server's certificate, CA `ca` of `pki`, and `roles` (TOML lines).
    static func listenerConfig(listen: String, server: TestPKI.Identity, pki: TestPKI, roles: String) -> String {
        """
        [api.tcp]
        listen = "\(listen)"
        cert = "\(server.certificate)"
        key = "\(server.key)"
        ca = "\(pki.paths("ca").certificate)"
        \(roles)
        """
    }

    static func waitForListener(_ agent: AgentProcess) async throws {
        for _ in 0..<200 {
            if agent.log().contains("serving TLS") { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("tetherd did not log \"serving TLS\" within 10 s: \(agent.log())")
    }

    /// The request fails before any HTTP answer, and the agent logged a refused handshake.
    static func expectHandshakeRefused(_ setup: Setup, _ client: TetherAgentClient) async throws {
        let error = await #expect(throws: TetherError.self) { try await client.health() }
        #expect(error?.code == .agentDenied || error?.code == .agentUnavailable, "\(String(describing: error))")
        try await Task.sleep(for: .milliseconds(200))
        #expect(setup.agent.log().contains("TLS handshake refused"), "\(setup.agent.log())")
    }

    @Test func readerCertificateMayReadButNotExport() async throws {
        try await Self.withAgent { setup in
            let reader = try setup.client(try setup.pki.issue("reader", commonName: "reader-1", by: "ca"))
            #expect(try await reader.health().status == "ok")
            #expect(try await reader.exports().isEmpty)
            // This agent serves no portals: an export that gets past the role check fails in its route.
            let request = CreateExportRequest(
                volume: .init(id: "vol-tls", path: "/nonexistent/vol-tls.img", sizeBytes: 1 << 20),
                connector: ConnectorProperties(initiator: "iqn.2026-11.io.tether.test:node2"))
            let refused = await #expect(throws: TetherError.self) { try await reader.createExport(request) }
            #expect(refused?.code == .apiRoleDenied)
            #expect(refused?.code.httpStatus == 403)
            #expect(refused?.message.contains("needs role exporter") == true, "\(String(describing: refused))")
            #expect(refused?.message.contains("reader-1") == true)
            // The same request from an exporter passes the role check and reaches the route,
            // which refuses it for its own reason: the role was the only difference.
            let exporter = try setup.client(try setup.pki.issue("exporter", commonName: "exporter-1", by: "ca"))
            let routed = await #expect(throws: TetherError.self) { try await exporter.createExport(request) }
            #expect(routed != nil && routed?.code != .apiRoleDenied, "\(String(describing: routed))")
            #expect(try await reader.exports().isEmpty)
            // A name with no role at all may not even read.
            let stranger = try setup.client(try setup.pki.issue("stranger", commonName: "stranger-1", by: "ca"))
            let denied = await #expect(throws: TetherError.self) { try await stranger.health() }
            #expect(denied?.code == .apiRoleDenied)
            // The unix socket is unchanged beside the listener.
            #expect(try await TetherAgentClient(socketPath: setup.agent.socketPath).health().status == "ok")
        }
    }

    @Test func certificateFromAnotherCAIsRefusedInTheHandshake() async throws {
        try await Self.withAgent { setup in
            try setup.pki.authority("other-ca")
            let foreign = try setup.pki.issue("foreign", commonName: "admin-1", by: "other-ca")
            try await Self.expectHandshakeRefused(setup, try setup.client(foreign))
        }
    }

    @Test func expiredCertificateIsRefusedInTheHandshake() async throws {
        try await Self.withAgent { setup in
            let expired = try setup.pki.issue("expired", commonName: "admin-1", by: "ca", days: -1)
            try await Self.expectHandshakeRefused(setup, try setup.client(expired))
        }
    }

    @Test func selfSignedCertificateIsRefusedInTheHandshake() async throws {
        try await Self.withAgent { setup in
            let own = try setup.pki.selfSigned("own", commonName: "admin-1")
            try await Self.expectHandshakeRefused(setup, try setup.client(own))
        }
    }

    @Test func clientWithoutCertificateIsRefusedInTheHandshake() async throws {
        try await Self.withAgent { setup in
            // openssl's own client, offering no certificate, then a request.
            let (status, output) = try Lab.run(
                "bash",
                ["-c", "printf 'GET /v1/health HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | timeout 10 openssl s_client -quiet -connect 127.0.0.1:\(setup.port) -CAfile \(setup.pki.paths("ca").certificate) 2>&1"])
            #expect(!output.contains("HTTP/1.1"), "status \(status): \(output)")
            try await Task.sleep(for: .milliseconds(200))
            #expect(setup.agent.log().contains("TLS handshake refused"), "\(setup.agent.log())")
        }
    }

    @Test func plaintextToTheTLSPortIsRefused() async throws {
        try await Self.withAgent { setup in
            let (_, output) = try Lab.run(
                "bash",
                ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(setup.port) && printf 'GET /v1/health HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' >&3 && timeout 10 cat <&3; echo \"exit $?\""])
            #expect(!output.contains("HTTP/1.1"), "\(output)")
            #expect(!output.contains("\"status\""), "\(output)")
            // Not a timeout: the agent closed the connection.
            #expect(output.contains("exit 0") || output.contains("exit 1"), "\(output)")
        }
    }

    @Test func stalledHandshakeIsClosedAfterTheIdleTimeout() async throws {
        try await Self.withAgent(extraConfig: "[api]\nidle_timeout = 2") { setup in
            let started = ContinuousClock.now
            // Connects and sends nothing: no handshake ever starts.
            let (_, output) = try Lab.run("bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(setup.port) && timeout 20 cat <&3; echo \"exit $?\""])
            #expect(output.contains("exit 0"), "\(output)")
            #expect(ContinuousClock.now - started < .seconds(10), "the connection stayed open \(ContinuousClock.now - started)")
        }
    }

    @Test func privateKeyReadableByOthersStopsTheAgent() async throws {
        let error = await #expect(throws: TetherError.self) {
            try await Self.withAgent(keyMode: 0o644) { _ in }
        }
        #expect(error?.message.contains("server.key ([api.tcp] key) has mode 644") == true, "\(String(describing: error))")
    }

    @Test func sighupReloadsTheCertificate() async throws {
        try await Self.withAgent { setup in
            let admin = try setup.pki.issue("admin", commonName: "admin-1", by: "ca")
            try setup.pki.authority("next-ca")
            // A client that trusts only the next CA for the agent's certificate.
            let next = try setup.client(admin, ca: setup.pki.paths("next-ca").certificate)
            await #expect(throws: TetherError.self) { try await next.health() }

            // A key others may read is refused on reload too, and the old certificate stays.
            let renewed = try setup.pki.issue("renewed", commonName: "storage-1", by: "next-ca", alternativeNames: ["IP:127.0.0.1"])
            #expect(chmod(renewed.key, 0o644) == 0)
            try Self.swap(renewed, into: setup.server)
            #expect(kill(setup.agent.pid, SIGHUP) == 0)
            try await Self.waitForLog(setup.agent, "TLS certificates not reloaded")
            #expect(try await setup.client(admin).health().status == "ok")

            #expect(chmod(setup.server.key, 0o600) == 0)
            #expect(kill(setup.agent.pid, SIGHUP) == 0)
            try await Self.waitForLog(setup.agent, "TLS certificates reloaded")
            #expect(try await next.health().status == "ok")
            await #expect(throws: TetherError.self) { try await setup.client(admin).health() }
        }
    }

    @Test func cliSpeaksToTheRemoteAgent() async throws {
        try await Self.withAgent { setup in
            let admin = try setup.pki.issue("admin", commonName: "admin-1", by: "ca")
            let tether = (AgentProcess.binary as NSString).deletingLastPathComponent + "/tether"
            let options = try Lab.run(
                tether, ["--agent", setup.url, "--cert", admin.certificate, "--key", admin.key, "--ca", setup.pki.paths("ca").certificate, "health", "--json"],
                environment: ["TETHER_SOCKET": "/nonexistent.sock"])
            #expect(options.status == 0, "\(options.output)")
            #expect(options.output.contains("\"status\":\"ok\"") || options.output.contains("\"status\" : \"ok\""), "\(options.output)")
            let environment = try Lab.run(
                tether, ["list", "--json"],
                environment: [
                    "TETHER_SOCKET": "/nonexistent.sock", "TETHER_AGENT": setup.url, "TETHER_CERT": admin.certificate, "TETHER_KEY": admin.key,
                    "TETHER_CA": setup.pki.paths("ca").certificate,
                ])
            #expect(environment.status == 0, "\(environment.output)")
            // --cert without --agent is a usage error naming the option.
            let stray = try Lab.run(tether, ["health", "--cert", admin.certificate], environment: ["TETHER_SOCKET": setup.agent.socketPath])
            #expect(stray.status == 2 && stray.output.contains("--cert is only for a remote agent"), "\(stray.output)")
        }
    }

    /// Replaces `target`'s certificate and key files with `source`'s, keeping their paths.
    static func swap(_ source: TestPKI.Identity, into target: TestPKI.Identity) throws {
        for (from, to) in [(source.certificate, target.certificate), (source.key, target.key)] {
            guard rename(from, to) == 0 else { throw TetherError(.internalError, "rename \(from) \(to): errno \(errno)") }
        }
    }

    static func waitForLog(_ agent: AgentProcess, _ text: String) async throws {
        for _ in 0..<200 {
            if agent.log().contains(text) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("tetherd did not log \"\(text)\" within 10 s: \(agent.log())")
    }
}
