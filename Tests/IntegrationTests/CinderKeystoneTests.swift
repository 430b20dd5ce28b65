import Foundation
import Synchronization
import TetherAPI
import TetherClient
import TetherCore
import TetherTesting
import Testing

/// local-attach against the lab's Cinder with a real Keystone (Debian's keystone, fernet tokens):
/// each way of authenticating, a token revoked and one expired mid-operation, a wrong password, and the catalog's
/// endpoint chosen by interface and region.
// Inside CinderLocalAttachTests, whose traits name the peers (keystone among them) and serialize
// its children: the lab is shared, and its other tests take cinder-api down.
extension CinderLocalAttachTests {
    // Skipped when the lab is started without Keystone (CINDER_LAB_AUTH=noauth), which a
    // developer chooses; CI runs the default, with Keystone.
    @Suite(.enabled(if: CinderLab.authMode == "keystone")) struct Keystone {
        enum Way: String, CaseIterable, Sendable {
            case password, applicationCredential, token
        }

        /// An agent with both lab clusters and this `[cinder]` table.
        static func withAgent(_ lab: CinderLab, cinder: String, _ body: (AgentProcess, TetherAgentClient) async throws -> Void) async throws {
            try await TemporaryDirectory.with(prefix: "reg") { registry in
                try await AgentRBDTests.register(lab.cephA, in: registry.path)
                try await AgentRBDTests.register(lab.cephB, in: registry.path)
                try await AgentProcess.with(tgtd: nil, extraConfig: Lab.cephConfig(registry: registry) + "\n" + cinder) { agent in
                    try await body(agent, TetherAgentClient(socketPath: agent.socketPath))
                }
            }
        }

        /// Attached in Cinder's view: in-use, one complete attachment for this host.
        static func expectAttached(_ lab: CinderLab, _ volume: String, _ attachment: LocalAttachmentBody) throws {
            #expect(try lab.status(volume) == "in-use")
            let attachments = try lab.attachments(volume)
            #expect(attachments.count == 1)
            #expect(attachments.first?["id"]?.stringValue == attachment.cinderAttachmentID)
            #expect(attachments.first?["status"]?.stringValue == "attached")
        }

        @Test(arguments: Way.allCases) func eachWayOfAuthenticatingAttachesAndDetaches(way: Way) async throws {
            let lab = try await CinderLab.running()
            try #require(lab.usesKeystone, "the lab runs without Keystone (CINDER_LAB_AUTH=noauth)")
            let volume = try await lab.createVolume(type: "ceph-a")
            defer { lab.deleteVolume(volume) }
            try await TemporaryDirectory.with(prefix: "tok") { tokens in
                let auth: CinderLab.AgentAuth
                switch way {
                case .password: auth = .password
                case .applicationCredential: auth = .applicationCredential
                case .token: auth = .token(file: try lab.issueToken(in: tokens))
                }
                try await Self.withAgent(lab, cinder: lab.agentConfig(auth: auth)) { agent, client in
                    let attached = try await client.reply(.localAttach(LocalAttachRequest(volumeID: volume))).value()
                    #expect(attached.state == "attached")
                    try Self.expectAttached(lab, volume, attached)
                    #expect(try await client.reply(.localDetach(volume, force: false)).value().detached)
                    try await CinderLocalAttachTests.expectClean(lab, volume, client, agent)
                }
            }
        }

        /// The agent's token is revoked in Keystone just before its request to create the attachment
        /// reaches Cinder: Cinder answers 401, the agent gets a new token and the attach completes.
        @Test func aTokenRevokedMidOperationIsRenewed() async throws {
            let lab = try await CinderLab.running()
            try #require(lab.usesKeystone, "the lab runs without Keystone (CINDER_LAB_AUTH=noauth)")
            let volume = try await lab.createVolume(type: "ceph-a")
            defer { lab.deleteVolume(volume) }
            let tap = try HTTPTap(upstreamPort: lab.apiPort)
            defer { tap.stop() }
            let seen = Mutex<[String]>([])  // the token of each POST /attachments, in order
            tap.onRequestHead { head in
                guard head.hasPrefix("POST "), head.split(separator: "\r\n").first?.hasSuffix("/attachments HTTP/1.1") == true else { return .forward }
                let token = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-auth-token:") }
                    .map { $0.dropFirst("x-auth-token:".count).trimmingCharacters(in: .whitespaces) } ?? ""
                let first = seen.withLock { tokens in
                    tokens.append(token)
                    return tokens.count == 1
                }
                if first {
                    // Revoked before Cinder sees the request: keystonemiddleware (no token cache in the
                    // lab) refuses it. A failed revoke shows as one POST in `seen`, below.
                    do { try lab.revoke(token: token) } catch { Issue.record(error) }
                }
                return .forward
            }
            let endpoint = lab.url.replacingOccurrences(of: ":\(lab.apiPort)/", with: ":\(tap.port)/")
            try await Self.withAgent(lab, cinder: lab.agentConfig(endpoint: endpoint)) { agent, client in
                let attached = try await client.reply(.localAttach(LocalAttachRequest(volumeID: volume))).value()
                let tokens = seen.withLock { $0 }
                #expect(tokens.count == 2, "POST /attachments was sent \(tokens.count) times")
                #expect(tokens.count == 2 && tokens[0] != tokens[1] && !tokens[1].isEmpty)
                try Self.expectAttached(lab, volume, attached)
                #expect(try await client.reply(.localDetach(volume, force: false)).value().detached)
                try await CinderLocalAttachTests.expectClean(lab, volume, client, agent)
            }
        }

        /// How long the expiring Keystone's tokens live, in seconds: long enough that the agent's
        /// first token is still good when its POST /attachments reaches the tap (a GET or two
        /// before it), short enough that the hold stays well inside the agent's 10 s request
        /// timeout (the lab's `[cinder] timeout`).
        static let tokenLifetime = 5

        /// The agent's token really expires: the agent gets it from a Keystone whose tokens live 5 s,
        /// and its POST /attachments is held on the way to Cinder until the lab's Keystone, by its own
        /// clock, no longer takes that token. Cinder answers 401, the agent gets a second token from
        /// Keystone, sends the request again and the attach completes.
        @Test func aTokenExpiredMidOperationIsRenewed() async throws {
            let lab = try await CinderLab.running()
            try #require(lab.usesKeystone, "the lab runs without Keystone (CINDER_LAB_AUTH=noauth)")
            let volume = try await lab.createVolume(type: "ceph-a")
            defer { lab.deleteVolume(volume) }
            try await lab.withExpiringKeystone(tokenLifetime: Self.tokenLifetime) { expiringURL in
                // Counts the tokens Keystone issues to the agent. The rule sees the request body (the
                // password): it only counts, it keeps nothing.
                let keystoneTap = try HTTPTap(upstreamPort: lab.expiringKeystonePort)
                defer { keystoneTap.stop() }
                let issued = Mutex(0)
                keystoneTap.onRequest { line in
                    if line.hasPrefix("POST /v3/auth/tokens ") { issued.withLock { $0 += 1 } }
                    return .forward
                }
                let tap = try HTTPTap(upstreamPort: lab.apiPort)
                defer { tap.stop() }
                let seen = Mutex<[String]>([])  // the token of each POST /attachments, in order
                let atHold = Mutex<(issued: Int, expired: Bool)?>(nil)
                tap.onRequestHead { head in
                    guard head.hasPrefix("POST "), head.split(separator: "\r\n").first?.hasSuffix("/attachments HTTP/1.1") == true else { return .forward }
                    let token = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-auth-token:") }
                        .map { $0.dropFirst("x-auth-token:".count).trimmingCharacters(in: .whitespaces) } ?? ""
                    let first = seen.withLock { tokens in
                        tokens.append(token)
                        return tokens.count == 1
                    }
                    guard first else { return .forward }
                    // Held (the relay's thread may block) until Keystone no longer takes the token;
                    // nobody revokes it, so only its age can end it. Cinder then checks it with
                    // that Keystone (no token cache in the lab) and refuses it.
                    let deadline = ContinuousClock.now + .seconds(Self.tokenLifetime + 3)
                    var expired = false
                    while !expired, ContinuousClock.now < deadline {
                        do { expired = try !lab.isValid(token: token) } catch { Issue.record(error); break }
                        if !expired { Thread.sleep(forTimeInterval: 0.2) }
                    }
                    let count = issued.withLock { $0 }
                    atHold.withLock { $0 = (count, expired) }
                    return .forward
                }
                let endpoint = lab.url.replacingOccurrences(of: ":\(lab.apiPort)/", with: ":\(tap.port)/")
                let config = lab.agentConfig(endpoint: endpoint, authURL: "http://127.0.0.1:\(keystoneTap.port)/v3")
                #expect(expiringURL.hasSuffix(":\(lab.expiringKeystonePort)/v3"))
                try await Self.withAgent(lab, cinder: config) { agent, client in
                    let attached = try await client.reply(.localAttach(LocalAttachRequest(volumeID: volume))).value()
                    let hold = try #require(atHold.withLock { $0 }, "no POST /attachments reached the tap")
                    #expect(hold.expired, "the token was still valid \(Self.tokenLifetime + 3) s after the hold began")
                    #expect(hold.issued == 1, "Keystone had issued \(hold.issued) tokens before the hold")
                    #expect(issued.withLock { $0 } >= 2, "Keystone issued no second token")
                    let tokens = seen.withLock { $0 }
                    #expect(tokens.count == 2, "POST /attachments was sent \(tokens.count) times")
                    #expect(tokens.count == 2 && tokens[0] != tokens[1] && !tokens[1].isEmpty)
                    try Self.expectAttached(lab, volume, attached)
                    #expect(try await client.reply(.localDetach(volume, force: false)).value().detached)
                    try await CinderLocalAttachTests.expectClean(lab, volume, client, agent)
                }
            }
        }

        /// A wrong password: Keystone refuses, `tether local-attach` exits 5 with cinder.denied, and
        /// Cinder has not been touched.
        @Test func aWrongPasswordIsDeniedAndChangesNothing() async throws {
            let lab = try await CinderLab.running()
            try #require(lab.usesKeystone, "the lab runs without Keystone (CINDER_LAB_AUTH=noauth)")
            let volume = try await lab.createVolume(type: "ceph-a")
            defer { lab.deleteVolume(volume) }
            let before = try lab.volume(volume)
            try await TemporaryDirectory.with(prefix: "pw") { directory in
                let wrong = directory.file("wrong.password")
                guard FileManager.default.createFile(atPath: wrong, contents: Data("not-the-password".utf8), attributes: [.posixPermissions: 0o600]) else {
                    throw TetherError(.internalError, "cannot write \(wrong)")
                }
                try await Self.withAgent(lab, cinder: lab.agentConfig(auth: .passwordFile(wrong))) { agent, client in
                    let error = await #expect(throws: TetherError.self) {
                        try await client.reply(.localAttach(LocalAttachRequest(volumeID: volume)))
                    }
                    #expect(error?.code == .cinderDenied, "\(String(describing: error))")
                    let cli = try CLIFlowTests.tether(agent, ["local-attach", volume])
                    #expect(cli.status == 5, "\(cli.output)")
                    #expect(try lab.volume(volume)["status"] == before["status"])
                    #expect(try lab.attachments(volume).isEmpty)
                    #expect(try await client.reply(.localAttachments).value().localAttachments.isEmpty)
                }
            }
        }

        /// RegionTwo's internal endpoint is a port only this test serves (a tap in front of Cinder):
        /// the attach works through it, so the agent took that endpoint and no other.
        @Test func theCatalogChoosesTheEndpointByInterfaceAndRegion() async throws {
            let lab = try await CinderLab.running()
            try #require(lab.usesKeystone, "the lab runs without Keystone (CINDER_LAB_AUTH=noauth)")
            let port = try #require(lab.endpointPorts["RegionTwo/internal"])
            #expect(port != lab.apiPort)
            let volume = try await lab.createVolume(type: "ceph-b")
            defer { lab.deleteVolume(volume) }
            let tap = try HTTPTap(upstreamPort: lab.apiPort, listenPort: port)
            defer { tap.stop() }
            let requests = Mutex(0)
            tap.onRequest { _ in
                requests.withLock { $0 += 1 }
                return .forward
            }
            try await Self.withAgent(lab, cinder: lab.agentConfig(interface: "internal", region: "RegionTwo")) { agent, client in
                let attached = try await client.reply(.localAttach(LocalAttachRequest(volumeID: volume))).value()
                try Self.expectAttached(lab, volume, attached)
                #expect(requests.withLock { $0 } > 0)
                #expect(try await client.reply(.localDetach(volume, force: false)).value().detached)
                try await CinderLocalAttachTests.expectClean(lab, volume, client, agent)
            }
        }
    }
}
