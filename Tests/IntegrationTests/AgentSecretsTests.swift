import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherTesting
import Testing

/// Secrets a connection_info carries, modelled or not and at any depth, never leave the agent
/// that attaches: not in its log, its answers, nor its journal's bytes. Two real agents: one
/// exports through tgtd (and keeps the CHAP password in its journal, by design, to restore the
/// export), the other attaches with libiscsi and is the one searched.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.tgtd)), .lab(.tgtd), .timeLimit(.minutes(2)))
struct AgentSecretsTests {
    static let planted: [String: String] = [
        "data.extra.deep.password": "deep-Password-31415",
        "data.volume_encryption.passphrase": "luks-Passphrase-27182",
        "data.keyring": "keyring-Secret-16180",
        "data.discovery_auth_password": "discovery-Secret-14142",
        "data.vendor.api_token": "vendor-Token-17320",
        "connection_info.auth_credential": "top-Credential-22360",
    ]

    static func withSecrets(_ info: ConnectionInfo, chap: String? = nil) -> ConnectionInfo {
        var info = info
        info.data["extra"] = ["deep": ["password": .string(planted["data.extra.deep.password"]!), "note": "kept"]]
        info.data["volume_encryption"] = ["passphrase": .string(planted["data.volume_encryption.passphrase"]!), "cipher": "aes-xts-plain64"]
        info.data["keyring"] = .string("[client.cinder]\n\tkey = \(planted["data.keyring"]!)\n")
        info.data["discovery_auth_password"] = .string(planted["data.discovery_auth_password"]!)
        info.data["vendor"] = [["api_token": .string(planted["data.vendor.api_token"]!)]]
        info.extra["auth_credential"] = .string(planted["connection_info.auth_credential"]!)
        if let chap { info.data["auth_password"] = .string(chap) }
        return info
    }

    @Test func nestedAndUnmodelledSecretsNeverLeaveTheAttachingAgent() async throws {
        try await Tgtd.with { tgtd in
            try await AgentProcess.with(tgtd: tgtd) { exporter in
                let export = try await AgentISCSITests.export(TetherAgentClient(socketPath: exporter.socketPath), tgtd, volume: "vol-secrets", initiator: exporter.initiator)
                let chap = AgentISCSITests.password(export.connectionInfo)
                #expect(chap.count >= 16)
                let wrong = "Wrong-CHAP-Password-99"
                try await AgentProcess.with(tgtd: nil) { agent in
                    let client = TetherAgentClient(socketPath: agent.socketPath)
                    var answers: [String] = []
                    func send(_ method: String, _ target: String, _ body: CreateAttachmentRequest? = nil) async throws -> (Int, String) {
                        let data = try body.map { try JSONEncoder().encode($0) }
                        let response = try await client.http.send(HTTPRequest(method: method, target: target, body: data))
                        let text = String(decoding: response.body, as: UTF8.self)
                        answers.append(text)
                        return (response.status, text)
                    }

                    // A refused login first: its error answer and log line carry no secret either.
                    let (refusedStatus, refused) = try await send("POST", "/v1/attachments", CreateAttachmentRequest(connectionInfo: Self.withSecrets(export.connectionInfo, chap: wrong)))
                    #expect(refusedStatus == 403, "\(refused)")
                    #expect(refused.contains("iscsi.auth_failed"))

                    let (status, created) = try await send("POST", "/v1/attachments", CreateAttachmentRequest(connectionInfo: Self.withSecrets(export.connectionInfo)))
                    #expect(status == 201, "\(created)")
                    let id = try JSONDecoder().decode(AttachmentBody.self, from: Data(created.utf8)).id
                    _ = try await send("GET", "/v1/attachments")
                    _ = try await send("GET", "/v1/attachments/\(id)")
                    _ = try await send("GET", "/v1/attachments/vol-secrets")
                    // The journal while the attachment exists, and again after it is gone. QEMU's
                    // 0600 secret file holds the CHAP password, by design, and nothing else.
                    let attachedJournal = try Self.journalBytes(agent)
                    let secretFiles = try FileManager.default.contentsOfDirectory(atPath: agent.stateDirectory + "/secrets")
                    #expect(secretFiles.count == 1)
                    for name in secretFiles {
                        #expect(try String(contentsOfFile: agent.stateDirectory + "/secrets/" + name, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == chap)
                    }
                    _ = try await send("DELETE", "/v1/attachments/\(id)")
                    _ = try await send("GET", "/v1/health")

                    let secrets = Array(Self.planted.values) + [chap, wrong]
                    let log = agent.log()
                    #expect(log.contains("attach finished") && log.contains("attach failed"), "the log has the attaches it is searched for")
                    let journal = attachedJournal + (try Self.journalBytes(agent))
                    // The journal does keep the unsecret parts of what it was sent.
                    #expect(journal.contains("aes-xts-plain64") && journal.contains("<redacted>"))
                    for secret in secrets {
                        #expect(!log.contains(secret), "the log holds \(secret)")
                        #expect(!journal.contains(secret), "the journal holds \(secret)")
                        for answer in answers {
                            #expect(!answer.contains(secret), "an answer holds \(secret): \(answer.prefix(300))")
                        }
                    }
                }
            }
        }
    }

    /// Every byte of the agent's journal files (the database, its WAL and shared memory), as text.
    static func journalBytes(_ agent: AgentProcess) throws -> String {
        try FileManager.default.contentsOfDirectory(atPath: agent.stateDirectory).filter { $0.hasPrefix("journal") }.sorted().map { name in
            String(decoding: try Data(contentsOf: URL(fileURLWithPath: agent.stateDirectory + "/" + name)), as: UTF8.self)
        }.joined()
    }
}

/// A Cinder secret file others may read: the real agent starts, serves everything else, and
/// answers every Cinder request with `not_configured`, naming the file, its mode and the fix.
@Suite(.tags(.integration), .timeLimit(.minutes(1)))
struct CinderSecretFileTests {
    @Test func groupReadablePasswordFileTurnsCinderOffNotTheAgent() async throws {
        try await TemporaryDirectory.with(prefix: "cpw") { directory in
            let file = directory.file("cinder.password")
            try "Keystone-Password-4711\n".write(toFile: file, atomically: true, encoding: .utf8)
            chmod(file, 0o640)
            let config = """
                [cinder]
                auth_url = "http://127.0.0.1:9/v3"
                username = "tether"
                password_file = "\(file)"
                project_name = "service"
                """
            try await AgentProcess.with(tgtd: nil, extraConfig: config) { agent in
                let client = TetherAgentClient(socketPath: agent.socketPath)
                let health = try await client.health()
                #expect(health.status == "degraded")
                #expect(health.problems?.contains { $0.contains(file) && $0.contains("0640") } == true, "\(String(describing: health.problems))")
                let error = await #expect(throws: TetherError.self) {
                    try await client.reply(.localAttach(LocalAttachRequest(volumeID: "0b5e0f4e-0000-4000-8000-00000000beef")))
                }
                #expect(error?.code == .notConfigured)
                #expect(error?.message.contains(file) == true && error?.message.contains("0640") == true)
                #expect(error?.hint?.contains("chmod 600 \(file)") == true)
                #expect(agent.log().contains("Cinder is off"))
                #expect(!agent.log().contains("Keystone-Password-4711"))
            }
        }
    }
}
