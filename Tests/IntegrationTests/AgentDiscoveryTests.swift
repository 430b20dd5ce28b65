import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherTarget
import TetherTesting
import Testing

/// connection_info variants a real Cinder sends: one portal only (discovery), no IQN, mutual CHAP.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.tgtd)), .lab(.tgtd), .timeLimit(.minutes(2)))
struct AgentDiscoveryTests {
    static func singlePortal(_ info: ConnectionInfo, keepIQN: Bool = true) -> ConnectionInfo {
        var single = info
        for key in ["target_portals", "target_iqns", "target_luns"] { single.data[key] = nil }
        if !keepIQN { single.data["target_iqn"] = nil }
        return single
    }

    @Test func onePortalIsExpandedByDiscovery() async throws {
        try await Tgtd.with { tgtd in
            try await AgentProcess.with(tgtd: tgtd) { agent in
                let client = TetherAgentClient(socketPath: agent.socketPath)
                let export = try await AgentISCSITests.export(client, tgtd, volume: "vol-disc", initiator: agent.initiator)
                let (attachment, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: Self.singlePortal(export.connectionInfo)))
                #expect(attachment.wwid == export.export.wwid)
                #expect(!attachment.paths.isEmpty && attachment.paths.allSatisfy { $0.target == export.export.targetIQN })
                _ = try await client.detach(attachment.id)

                let (withoutIQN, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: Self.singlePortal(export.connectionInfo, keepIQN: false)))
                #expect(withoutIQN.wwid == export.export.wwid)
            }
        }
    }

    @Test func discoveryHidesTargetsOfOtherInitiators() async throws {
        try await Tgtd.with { tgtd in
            try await AgentProcess.with(tgtd: tgtd) { agent in
                let client = TetherAgentClient(socketPath: agent.socketPath)
                let other = try await AgentISCSITests.export(client, tgtd, volume: "vol-hidden", initiator: "iqn.2026-11.io.tether.test:other")
                let error = await #expect(throws: TetherError.self) {
                    try await client.attach(CreateAttachmentRequest(connectionInfo: Self.singlePortal(other.connectionInfo)))
                }
                #expect(error?.code == .iscsiNotAuthorized)
                #expect(try await client.health().attachments == 0)
            }
        }
    }

    @Test func mutualCHAP() async throws {
        try await Tgtd.with { tgtd in
            try await AgentProcess.with(tgtd: tgtd) { agent in
                let client = TetherAgentClient(socketPath: agent.socketPath)
                let export = try await AgentISCSITests.export(client, tgtd, volume: "vol-mutual", initiator: agent.initiator)
                // The target's own account, over tgtd's socket so the password stays off argv.
                let control = TgtSocketControl(socketBase: tgtd.socketBase, controlPort: tgtd.controlPort)
                let targetSecret = Secret.random()
                _ = try await control.send(TgtRequest(.account, .new, parameters: targetSecret.reveal { "user=target-side,password=\($0)" }))
                let bound = try await control.send(TgtRequest(.account, .bind, tid: 1, outgoing: true, parameters: "user=target-side"))
                #expect(bound.status == .success)

                var info = export.connectionInfo
                info.data["target_auth_username"] = "target-side"
                info.data["target_auth_password"] = targetSecret.reveal { .string($0) }
                let (attachment, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: info))
                #expect(attachment.wwid == export.export.wwid)
                _ = try await client.detach(attachment.id)

                info.data["target_auth_password"] = "not-the-target-secret"
                let error = await #expect(throws: TetherError.self) { try await client.attach(CreateAttachmentRequest(connectionInfo: info)) }
                #expect(error?.code == .iscsiAuthFailed, "\(String(describing: error))")
                #expect(try await client.health().attachments == 0)
            }
        }
    }
}
