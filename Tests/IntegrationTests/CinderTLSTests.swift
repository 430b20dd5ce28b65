import Foundation
import TetherCinder
import TetherCore
import TetherTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `cacert` (clouds.yaml, OS_CACERT, `[cinder] cacert`): Tether trusts the given CA for https to
/// Keystone and Cinder. The peer is openssl's own TLS server (`s_server -www`, which answers any
/// GET with an HTML page) with a certificate of a CA made for the test: a client that trusts it gets
/// through TLS to an answer that is not Cinder's (`cinder.failed`); one that does not stops at the
/// handshake (`cinder.unreachable`).
@Suite(.tags(.integration), .enabled(if: Lab.runs(.openssl)), .lab(.openssl), .timeLimit(.minutes(1)))
struct CinderTLSTests {
    // Free in the tests' network namespace: the Cinder lab uses 44100-44125.
    static let port = 44390

    @Test func theGivenCAIsTrustedAndNothingElse() async throws {
        try await TemporaryDirectory.with(prefix: "tls") { directory in
            let certificate = directory.file("server.pem")
            let made = try Lab.run("openssl", [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory.file("server.key"), "-out", certificate, "-days", "1",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
            ])
            try #require(made.status == 0, "\(made.output)")
            let server = try SpawnedProcess(
                "/usr/bin/openssl",
                ["s_server", "-accept", "127.0.0.1:\(Self.port)", "-cert", certificate, "-key", directory.file("server.key"), "-www", "-quiet"],
                logPath: directory.file("s_server.log"))
            defer {
                kill(server.pid, SIGKILL)
                server.wait()
            }
            let pem = try String(contentsOfFile: certificate, encoding: .utf8)
            func code(trusting pem: String?) async -> TetherError.Code? {
                let client = CinderClient(
                    .init(endpoint: "https://127.0.0.1:\(Self.port)/v3/p", auth: .noauth(user: "admin", project: "p"), timeout: .seconds(5), caCertificates: pem))
                do {
                    _ = try await client.microversion()
                    return nil
                } catch {
                    return (error as? TetherError)?.code
                }
            }
            // s_server takes a moment to listen; until then the answer is unreachable too.
            var trusted = await code(trusting: pem)
            for _ in 0..<50 where trusted != .cinderFailed {
                try await Task.sleep(for: .milliseconds(100))
                trusted = await code(trusting: pem)
            }
            #expect(trusted == .cinderFailed, "with the CA: \(String(describing: trusted)); s_server: \((try? String(contentsOfFile: directory.file("s_server.log"), encoding: .utf8)) ?? "")")
            #expect(await code(trusting: nil) == .cinderUnreachable)
            #expect(await code(trusting: "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n") == .invalidInput)
        }
    }
}
