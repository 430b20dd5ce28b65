import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherTesting
import Testing

/// local-attach and local-detach against a real Cinder (Debian's Zed) with two RBD backends on
/// two Ceph clusters, network mode; Cinder's view and Tether's are checked after every scenario.
// Serialized: one Cinder lab serves the whole suite, and each scenario reads its global state.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.cephMon, .cephOSD, .cinderAPI, .postgres, .rabbitMQ, .keystone)), .lab(.cephMon, .cephOSD, .cinderAPI, .postgres, .rabbitMQ, .keystone), .timeLimit(.minutes(5)), .serialized)
struct CinderLocalAttachTests {
    /// A registry with both lab clusters (the keys Cinder never sends), and the agent's config.
    static func withAgent<Value>(
        _ lab: CinderLab, endpoint: String? = nil, microversion: String? = nil, registerB: Bool = true,
        _ body: (AgentProcess, TetherAgentClient) async throws -> Value
    ) async throws -> Value {
        try await TemporaryDirectory.with(prefix: "reg") { registry in
            try await AgentRBDTests.register(lab.cephA, in: registry.path)
            if registerB { try await AgentRBDTests.register(lab.cephB, in: registry.path) }
            let config = Lab.cephConfig(registry: registry) + "\n" + lab.agentConfig(endpoint: endpoint, microversion: microversion)
            return try await AgentProcess.with(tgtd: nil, extraConfig: config) { agent in
                try await body(agent, TetherAgentClient(socketPath: agent.socketPath))
            }
        }
    }

    /// Cinder and the node are clean: the volume available with no attachment, nothing here.
    static func expectClean(_ lab: CinderLab, _ volume: String, _ client: TetherAgentClient, _ agent: AgentProcess) async throws {
        #expect(try lab.status(volume) == "available")
        #expect(try lab.attachments(volume).isEmpty)
        #expect(try await client.reply(.localAttachments).value().localAttachments.isEmpty)
        #expect(try await client.attachments().isEmpty)
        let secrets = (try? FileManager.default.contentsOfDirectory(atPath: agent.stateDirectory + "/secrets")) ?? []
        #expect(secrets.isEmpty, "\(secrets)")
    }

    @Test func attachBothClustersThenDetach() async throws {
        let lab = try await CinderLab.running()
        let volumeA = try await lab.createVolume(type: "ceph-a")
        let volumeB = try await lab.createVolume(type: "ceph-b")
        defer { lab.deleteVolume(volumeA); lab.deleteVolume(volumeB) }
        try await Self.withAgent(lab) { agent, client in
            let first = try await client.reply(.localAttach(LocalAttachRequest(volumeID: volumeA)))
            #expect(first.created)
            let a = try first.value()
            #expect(a.flow == "attachments")
            #expect(a.state == "attached")
            #expect(a.attachment?.protocolName == "rbd")
            #expect(a.attachment?.diskXML?.contains("ceph-a.conf") == true)
            #expect(a.timing.map { $0.cinderMilliseconds > 0 && $0.cinderMilliseconds <= $0.totalMilliseconds } == true)

            // Cinder's view: in-use, one attachment, ours, complete.
            #expect(try lab.status(volumeA) == "in-use")
            let attachments = try lab.attachments(volumeA)
            #expect(attachments.count == 1)
            #expect(attachments.first?["id"]?.stringValue == a.cinderAttachmentID)
            #expect(attachments.first?["status"]?.stringValue == "attached")

            // Again: the same attachment, nothing new in Cinder.
            let again = try await client.reply(.localAttach(LocalAttachRequest(volumeID: volumeA)))
            #expect(!again.created)
            #expect(try again.value().cinderAttachmentID == a.cinderAttachmentID)
            #expect(try lab.attachments(volumeA).count == 1)

            // The CLI, on the other cluster's volume.
            let cli = try CLIFlowTests.tether(agent, ["local-attach", volumeB])
            #expect(cli.status == 0, "\(cli.output)")
            #expect(cli.output.contains("local-attached volume \(volumeB)"))
            let b = try await client.reply(.localAttachment(volumeB)).value()
            #expect(b.attachment?.diskXML?.contains("ceph-b.conf") == true)
            #expect(try lab.status(volumeB) == "in-use")

            let detached = try await client.reply(.localDetach(volumeA, force: false)).value()
            #expect(detached.detached)
            let cliDetach = try CLIFlowTests.tether(agent, ["local-detach", volumeB])
            #expect(cliDetach.status == 0, "\(cliDetach.output)")
            #expect(try await !client.reply(.localDetach(volumeA, force: false)).value().detached)
            try await Self.expectClean(lab, volumeA, client, agent)
            try await Self.expectClean(lab, volumeB, client, agent)
        }
    }

    @Test func readOnlyHonoursAttachMode() async throws {
        let lab = try await CinderLab.running()
        let volume = try await lab.createVolume(type: "ceph-a")
        defer { lab.deleteVolume(volume) }
        try await Self.withAgent(lab) { agent, client in
            let attached = try await client.reply(.localAttach(LocalAttachRequest(volumeID: volume, readOnly: true))).value()
            #expect(attached.readOnly)
            #expect(attached.attachment?.diskXML?.contains("<readonly/>") == true)
            #expect(try lab.attachments(volume).first?["attach_mode"]?.stringValue == "ro")
            _ = try await client.reply(.localDetach(volume, force: false))
            try await Self.expectClean(lab, volume, client, agent)
        }
    }

    /// Below 3.44 the legacy actions: reserve, initialize_connection, attach; and back.
    @Test(arguments: ["3.0", "3.27"]) func oldMicroversionsUseTheLegacyFlow(version: String) async throws {
        let lab = try await CinderLab.running()
        let volume = try await lab.createVolume(type: "ceph-b")
        defer { lab.deleteVolume(volume) }
        try await Self.withAgent(lab, microversion: version) { agent, client in
            let attached = try await client.reply(.localAttach(LocalAttachRequest(volumeID: volume))).value()
            #expect(attached.flow == "legacy")
            #expect(attached.microversion == version)
            #expect(attached.cinderAttachmentID == nil)
            #expect(try lab.status(volume) == "in-use")
            _ = try await client.reply(.localDetach(volume, force: false))
            try await Self.expectClean(lab, volume, client, agent)
        }
    }

    @Test func initializeAndTerminateConnection() async throws {
        let lab = try await CinderLab.running()
        let volume = try await lab.createVolume(type: "ceph-a")
        defer { lab.deleteVolume(volume) }
        try await Self.withAgent(lab) { agent, client in
            let initialized = try await client.reply(.cinderInitialize(volume, multipath: nil)).value()
            let info = try #require(initialized.connectionInfo)
            #expect(info.driverVolumeType == "rbd")
            #expect(info.data["cluster_name"]?.stringValue == "ceph-a")
            #expect(initialized.connector.initiator == agent.initiator)
            let cli = try CLIFlowTests.tether(agent, ["cinder", "term", volume])
            #expect(cli.status == 0, "\(cli.output)")
            try await Self.expectClean(lab, volume, client, agent)
        }
    }
}
