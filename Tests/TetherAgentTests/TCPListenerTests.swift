import Foundation
import TetherCore
import TetherFakes
import Testing

@testable import TetherAgent

/// `[api.tcp]` in tether.toml, the roles requests need, and the key file's mode.
@Suite struct TCPListenerTests {
    static let valid = """
        [api.tcp]
        listen = "0.0.0.0:8443"
        cert = "/etc/tether/tls/agent.crt"
        key = "/etc/tether/tls/agent.key"
        ca = "/etc/tether/tls/ca.crt"
        readers = ["monitor-1"]
        attachers = ["compute-1", "compute-2"]
        exporters = ["compute-1"]
        admins = ["ops"]
        """

    @Test func offByDefault() throws {
        #expect(try AgentConfiguration.parse("", file: "t.toml").api.tcp == nil)
        #expect(try AgentConfiguration.parse("[api]\ngroup = \"tether\"", file: "t.toml").api.tcp == nil)
    }

    @Test func readsTheListener() throws {
        let tcp = try #require(try AgentConfiguration.parse(Self.valid, file: "t.toml").api.tcp)
        #expect(tcp.host == "0.0.0.0" && tcp.port == 8443)
        #expect(tcp.certificateFile == "/etc/tether/tls/agent.crt" && tcp.keyFile == "/etc/tether/tls/agent.key" && tcp.caFile == "/etc/tether/tls/ca.crt")
        #expect(tcp.roles.roles(of: ["compute-1"]) == [.attacher, .exporter])
        #expect(tcp.roles.roles(of: ["monitor-1", "ops"]) == [.reader, .admin])
        #expect(tcp.roles.roles(of: ["somebody"]).isEmpty)
        let v6 = try #require(try AgentConfiguration.parse(Self.valid.replacingOccurrences(of: "0.0.0.0:8443", with: "[::]:9443"), file: "t.toml").api.tcp)
        #expect(v6.host == "::" && v6.port == 9443)
    }

    @Test(arguments: [
        ("[api.tcp]\nlisten = \"0.0.0.0:8443\"\ncerts = \"/a\"", "t.toml: unknown key [api.tcp] certs; known: admins, attachers, ca, cert, exporters, key, listen, readers"),
        ("[api.tcp]\ncert = \"/a\"", "[api.tcp] has no listen"),
        ("[api.tcp]\nlisten = \"0.0.0.0:8443\"\nkey = \"/k\"\nca = \"/c\"", "[api.tcp] has no cert"),
        ("[api.tcp]\nlisten = \"0.0.0.0\"", "[api.tcp] listen \"0.0.0.0\" is not ADDRESS:PORT"),
        ("[api.tcp]\nlisten = \"0.0.0.0:0\"", "is not ADDRESS:PORT (port 1-65535)"),
        ("[api.tcp]\nlisten = \":::8443\"", "is not ADDRESS:PORT"),
        ("[api.tcp]\nlisten = 8443", "[api.tcp] listen must be a string"),
        ("[api.tcp]\nlisten = \"0.0.0.0:8443\"\ncert = \"agent.crt\"\nkey = \"/k\"\nca = \"/c\"", "[api.tcp] cert \"agent.crt\" is not an absolute path"),
        ("[api.tcp]\nlisten = \"0.0.0.0:8443\"\ncert = \"/a\"\nkey = \"/k\"\nca = \"/c\"\nadmins = \"ops\"", "[api.tcp] admins must be a list of strings"),
        ("[api.tcp]\nlisten = \"0.0.0.0:8443\"\ncert = \"/a\"\nkey = \"/k\"\nca = \"/c\"\nreaders = [\"a b\"]", "[api.tcp] readers: \"a b\" is not a certificate name"),
        ("[api.tcp.roles]\nops = \"admin\"", "unknown table [api.tcp.roles]"),
    ])
    func badListenerNamesTheKey(text: String, expected: String) {
        let error = #expect(throws: ConfigurationError.self) { try AgentConfiguration.parse(text, file: "t.toml") }
        #expect(error?.description.contains(expected) == true, "\(error?.description ?? "no error")")
    }

    @Test(arguments: [
        ("GET", "/v1/attachments", APIRole.reader), ("HEAD", "/v1/health", .reader), ("GET", "/v1/clusters", .reader),
        ("POST", "/v1/attachments", .attacher), ("DELETE", "/v1/attachments/vol-1?force=true", .attacher), ("POST", "/v1/attachments/a/extend", .attacher),
        ("POST", "/v1/local-attachments", .attacher), ("DELETE", "/v1/cinder/connections/v", .attacher),
        ("POST", "/v1/exports", .exporter), ("DELETE", "/v1/exports/vol-1?initiator=iqn.x", .exporter), ("POST", "//v1//exports", .exporter),
        ("POST", "/v1/clusters", .admin), ("DELETE", "/v1/clusters/a", .admin), ("POST", "/v1/clusters/sync", .admin), ("POST", "/v1/reconcile", .admin),
        // Unclassified: admin, so a route added later is closed to remote callers by default.
        ("PUT", "/v1/exports", .admin), ("POST", "/v1/new-thing", .admin), ("POST", "/v2/exports", .admin), ("POST", "", .admin),
        ("PATCH", "/v1/attachments", .admin),
    ])
    func requiredRole(method: String, path: String, role: APIRole) {
        #expect(APIRole.required(method: method, path: path) == role)
    }

    @Test func rolesCoverWhatTheyName() {
        #expect(ClientRoles.allows([.reader], .reader))
        #expect(!ClientRoles.allows([.reader], .exporter))
        #expect(!ClientRoles.allows([.attacher], .exporter))
        #expect(ClientRoles.allows([.attacher], .reader))
        #expect(ClientRoles.allows([.exporter], .exporter))
        #expect(!ClientRoles.allows([.exporter], .admin))
        #expect(ClientRoles.allows([.admin], .exporter) && ClientRoles.allows([.admin], .admin))
        #expect(!ClientRoles.allows([], .reader))
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o660] as [UInt32])
    func keyOthersMayReadIsRefused(mode: UInt32) async throws {
        let host = FakeHost()
        host.setFile("/tls/agent.key", "-----BEGIN PRIVATE KEY-----\nnot a key\n", mode: mode)
        let error = await #expect(throws: TetherError.self) { try await TLSCredentials.checkKeyMode("/tls/agent.key", host: host) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.contains("/tls/agent.key ([api.tcp] key) has mode \(String(mode, radix: 8))") == true, "\(String(describing: error))")
        #expect(error?.hint == "chmod 600 /tls/agent.key")
        #expect(error.map { "\($0)".contains("not a key") } == false)
    }

    @Test func ownerOnlyKeyPassesAndAMissingOneIsNamed() async throws {
        let host = FakeHost()
        host.setFile("/tls/agent.key", "key", mode: 0o600)
        try await TLSCredentials.checkKeyMode("/tls/agent.key", host: host)
        host.setFile("/tls/ro.key", "key", mode: 0o400)
        try await TLSCredentials.checkKeyMode("/tls/ro.key", host: host)
        let missing = await #expect(throws: TetherError.self) { try await TLSCredentials.checkKeyMode("/tls/none.key", host: host) }
        #expect(missing?.message.contains("/tls/none.key ([api.tcp] key) does not exist") == true)
    }

    /// Files that are not PEM: the listener refuses them by name, and never echoes a key's bytes.
    @Test func filesThatAreNotPEMAreNamed() async throws {
        let host = FakeHost()
        host.setFile("/tls/agent.crt", "not a certificate", mode: 0o644)
        host.setFile("/tls/agent.key", "SECRET-BYTES", mode: 0o600)
        host.setFile("/tls/ca.crt", "not a certificate either", mode: 0o644)
        let settings = TCPListenerSettings(
            host: "127.0.0.1", port: 8443, certificateFile: "/tls/agent.crt", keyFile: "/tls/agent.key", caFile: "/tls/ca.crt", roles: ClientRoles())
        let error = await #expect(throws: TetherError.self) { try await TLSCredentials.context(settings, host: host) }
        #expect(error?.message.contains("/tls/agent.crt ([api.tcp] cert) holds no PEM certificate") == true, "\(String(describing: error))")
    }
}
