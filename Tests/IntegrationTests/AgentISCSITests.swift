import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherISCSI
import TetherTesting
import Testing

/// tetherd (the built binary) against a real tgtd, checked with libiscsi and qemu-io as
/// independent clients.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.tgtd, .qemuIO)), .lab(.tgtd, .qemuIO), .timeLimit(.minutes(2)))
struct AgentISCSITests {
    static func export(_ client: TetherAgentClient, _ tgtd: Tgtd, volume: String, initiator: String) async throws -> ExportResponse {
        let request = CreateExportRequest(
            volume: .init(id: volume, path: tgtd.directory.file("\(volume).img"), sizeBytes: 16 << 20),
            connector: ConnectorProperties(initiator: initiator))
        return try await client.createExport(request).export
    }

    static func password(_ info: ConnectionInfo) -> String {
        info.data["auth_password"]?.stringValue ?? ""
    }

    @Test func exportAttachVerifyWithQEMUDetachTerminate() async throws {
        try await Tgtd.with { tgtd in
            try await AgentProcess.with(tgtd: tgtd) { agent in
                let client = TetherAgentClient(socketPath: agent.socketPath)
                let export = try await Self.export(client, tgtd, volume: "vol-qemu", initiator: agent.initiator)
                let again = try await Self.export(client, tgtd, volume: "vol-qemu", initiator: agent.initiator)
                #expect(again.connectionInfo == export.connectionInfo)

                let (attachment, created) = try await client.attach(CreateAttachmentRequest(connectionInfo: export.connectionInfo))
                #expect(created)
                #expect(attachment.paths.count == 2 && attachment.paths.allSatisfy { $0.state == "ok" })
                #expect(attachment.wwid == export.export.wwid)
                #expect(attachment.sizeBytes == 16 << 20)

                // Write through libiscsi on the second portal...
                let data = try ISCSIConnectionData(export.connectionInfo)
                let session = try await ISCSISession.login(portal: tgtd.portals[1], target: export.export.targetIQN, initiator: agent.initiator, chap: data.chap)
                try await session.write(lun: 1, lba: 8, data: [UInt8](repeating: 0xab, count: 65536), blockLength: 512)
                await session.close()
                // ...and read it back with QEMU through the blockdev Tether emitted (first portal).
                let output = try QEMU.io(attachment, command: "read -P 0xab 4096 65536")
                #expect(output.contains("read 65536/65536 bytes at offset 4096"), "\(output)")
                let mismatch = try QEMU.io(attachment, command: "read -P 0xcd 4096 512")
                #expect(mismatch.contains("Pattern verification failed"))

                #expect(try await client.attachments().map(\.id) == [attachment.id])
                #expect(try await client.detach(attachment.id).detached == [attachment.id])
                #expect(try await client.detach(attachment.id).detached.isEmpty)
                let deletion = try await client.deleteExport(volumeID: "vol-qemu")
                #expect(deletion.targetRemoved)
                #expect(try tgtd.tgtadm(["--op", "show", "--mode", "target"]).isEmpty)
                #expect(try FileManager.default.contentsOfDirectory(atPath: agent.stateDirectory + "/secrets").isEmpty)
                let health = try await client.health()
                #expect(health.attachments == 0 && health.exports == 0)
                #expect(agent.stop() == 0)
            }
        }
    }

    @Test func twoAttachesOfOneVolumeAtOnceGiveOneAttachment() async throws {
        try await Tgtd.with { tgtd in
            try await AgentProcess.with(tgtd: tgtd) { agent in
                let client = TetherAgentClient(socketPath: agent.socketPath)
                let export = try await Self.export(client, tgtd, volume: "vol-twice", initiator: agent.initiator)
                let results = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
                    for _ in 0..<2 {
                        group.addTask {
                            let (body, created) = try await client.attach(CreateAttachmentRequest(connectionInfo: export.connectionInfo))
                            return (body.id, created)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(Set(results.map(\.0)).count == 1)
                #expect(results.filter(\.1).count == 1)
                #expect(try await client.attachments().count == 1)
            }
        }
    }

    /// Each attach pauses (failpoint `attach.connected=pause`, 15 s) after its login: an agent
    /// that ran attaches one at a time would hold the others back for 16 x 15 s, past the test's
    /// limit, and its in-flight peak would be 1. Without the pause, overlap depended on how fast
    /// the test sent its requests on a loaded machine (once in CI the attaches ran one after the other).
    @Test func sixteenVolumesAttachInParallel() async throws {
        try await Tgtd.with { tgtd in
            let agent = try AgentProcess(tgtd: tgtd, environment: ["TETHER_FAILPOINTS": "attach.connected=pause"])
            defer { agent.remove() }
            let client = TetherAgentClient(socketPath: agent.socketPath)
            var infos: [ConnectionInfo] = []
            for index in 0..<16 {
                infos.append(try await Self.export(client, tgtd, volume: "vol-par-\(index)", initiator: agent.initiator).connectionInfo)
            }
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for info in infos {
                    group.addTask { try await client.attach(CreateAttachmentRequest(connectionInfo: info)).attachment.id }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(ids.count == 16)
            // The agent's own evidence: all sixteen were in flight at once.
            let metrics = try await client.http.send(HTTPRequest(method: "GET", target: "/v1/metrics"))
            let text = String(decoding: metrics.body, as: UTF8.self)
            let peak = text.split(separator: "\n").first { $0.hasPrefix("tether_operations_peak_in_flight ") }
            // A gauge, which swift-prometheus writes as a Double ("16.0").
            #expect((peak.flatMap { Double($0.split(separator: " ")[1]) } ?? 0) == 16, "\(text)")
            let overlapping = LogOverlap.maximumConcurrent(log: agent.log(), start: "attach started", end: "attach finished")
            #expect(overlapping == 16)
            for id in ids { _ = try await client.detach(id) }
        }
    }

    @Test func agentRestoresExportsAfterTgtdRestart() async throws {
        try await Tgtd.with { tgtd in
            try await AgentProcess.with(tgtd: tgtd) { agent in
                let client = TetherAgentClient(socketPath: agent.socketPath)
                let export = try await Self.export(client, tgtd, volume: "vol-restore", initiator: agent.initiator)
                #expect(agent.stop() == 0)
                let before = tgtd.pid
                try tgtd.restart()
                #expect(tgtd.pid != before)
                // The restarted tgtd has forgotten the target: only the agent can bring it back.
                let iqn = try #require(export.connectionInfo.data["target_iqn"]?.stringValue)
                #expect(!(try tgtd.tgtadm(["--op", "show", "--mode", "target"])).contains(iqn))
                try agent.start()
                #expect(try tgtd.tgtadm(["--op", "show", "--mode", "target"]).contains(iqn))
                let (attachment, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: export.connectionInfo))
                #expect(attachment.wwid == export.export.wwid)
            }
        }
    }
}

/// Reads how many operations ran at once from the agent's log lines.
enum LogOverlap {
    static func maximumConcurrent(log: String, start: String, end: String) -> Int {
        var running = 0
        var peak = 0
        for line in log.split(separator: "\n") {
            if line.contains("msg=\"\(start)\"") {
                running += 1
                peak = max(peak, running)
            } else if line.contains("msg=\"\(end)\"") || line.contains("msg=\"attach failed\"") {
                running -= 1
            }
        }
        return peak
    }
}

/// qemu-io as the independent client, driven by Tether's QEMU description of an attachment.
enum QEMU {
    /// - Parameters:
    ///   - node: runs qemu-io on that node (`NodeNetwork`); nil and no `launcher`: here.
    ///   - launcher: runs qemu-io on another node (`NodePair.launcher`).
    static func io(_ attachment: AttachmentBody, command: String, node: NodeNetwork.Node? = nil, launcher: [String] = []) throws -> String {
        let arguments = try imageArguments(attachment, commands: ["-c", command])
        if !launcher.isEmpty {
            let program = launcher + ["qemu-io"] + arguments
            return try Lab.run(program[0], Array(program.dropFirst())).output
        }
        let (program, argv) = node?.command("qemu-io", arguments) ?? ("qemu-io", arguments)
        return try Lab.run(program, argv).output
    }

    /// qemu-io's arguments for the attachment's QEMU description (its secrets by file), after
    /// `commands`.
    static func imageArguments(_ attachment: AttachmentBody, commands: [String] = []) throws -> [String] {
        guard let qemu = attachment.qemu else { throw TetherError(.internalError, "attachment has no QEMU description") }
        var arguments: [String] = []
        for object in qemu.objects {
            guard case .object(let fields) = object, let type = fields["qom-type"]?.stringValue else { continue }
            let options = fields.filter { $0.key != "qom-type" }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.stringValue ?? "")" }
            arguments += ["--object", ([type] + options).joined(separator: ",")]
        }
        let json = String(decoding: try JSONEncoder().encode(qemu.blockdev), as: UTF8.self)
        return arguments + commands + ["json:" + json]
    }
}
