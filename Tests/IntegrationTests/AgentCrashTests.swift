import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherTesting
import Testing

/// tetherd killed in the middle of an attach: the next start rolls it back before serving.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.tgtd)), .lab(.tgtd), .timeLimit(.minutes(2)))
struct AgentCrashTests {
    @Test func attachCutOffByACrashIsRolledBackAtStart() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        try await Tgtd.with { tgtd in
            try await AgentProcess.with(tgtd: tgtd, extraISCSI: "login_timeout = 30") { agent in
                let client = TetherAgentClient(socketPath: agent.socketPath)
                let export = try await AgentISCSITests.export(client, tgtd, volume: "vol-crash", initiator: agent.initiator)
                var info = export.connectionInfo
                // One healthy path and one that hangs in login: the attach stays in flight.
                info.data["target_portals"] = [.string(tgtd.portals[0].description), .string("127.0.0.1:\(listener.port)")]
                let inFlight = Task { try await client.attach(CreateAttachmentRequest(connectionInfo: info)) }
                let deadline = ContinuousClock.now + .seconds(10)
                while !agent.log().contains("msg=\"attach started\""), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                try await Task.sleep(for: .milliseconds(200))
                let killed = agent.pid
                agent.crash()
                #expect(kill(killed, 0) != 0, "tetherd \(killed) still runs after SIGKILL")
                // The client saw the agent go away mid-request, not an answer.
                switch await inFlight.result {
                case .failure(let error as TetherError): #expect(error.code == .agentUnavailable, "\(error)")
                case let other: Issue.record("the attach in flight ended with \(other), not agent_unavailable")
                }

                try agent.start()
                #expect(agent.log().contains("rolled back an interrupted attach"))
                #expect(try await client.attachments().isEmpty)
                #expect(try await client.health().exports == 1)
                let secrets = (try? FileManager.default.contentsOfDirectory(atPath: agent.stateDirectory + "/secrets")) ?? []
                #expect(secrets.isEmpty)
                // And the volume attaches normally afterwards.
                let (attachment, created) = try await client.attach(CreateAttachmentRequest(connectionInfo: export.connectionInfo))
                #expect(created && attachment.state == "attached")
            }
        }
    }
}
