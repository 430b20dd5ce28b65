import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherTesting
import Testing

/// /v1/metrics of a live tetherd after real operations, checked by Prometheus' own linter.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.tgtd, .promtool)), .lab(.tgtd, .promtool), .timeLimit(.minutes(2)))
struct AgentMetricsTests {
    /// `promtool check metrics` reads an exposition on stdin; it prints what it finds wrong and
    /// exits non-zero for a syntax error (1) or a lint problem (3).
    static func promtool(_ exposition: String) throws -> (status: Int32, output: String) {
        try Lab.run("promtool", ["check", "metrics"], stdin: exposition)
    }

    @Test func promtoolAcceptsTheLiveAgentsMetrics() async throws {
        try await Tgtd.with { tgtd in
            try await AgentProcess.with(tgtd: tgtd) { agent in
                let client = TetherAgentClient(socketPath: agent.socketPath)
                let export = try await AgentISCSITests.export(client, tgtd, volume: "vol-metrics", initiator: agent.initiator)
                let (attachment, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: export.connectionInfo))
                #expect(try await client.detach(attachment.id).detached == [attachment.id])
                // A wrong CHAP password: this attach fails, and is counted and timed as a failure.
                var wrong = export.connectionInfo
                wrong.data["auth_password"] = "not-the-password"
                let error = await #expect(throws: TetherError.self) {
                    try await client.attach(CreateAttachmentRequest(connectionInfo: wrong))
                }
                #expect(error?.code == .iscsiAuthFailed)
                #expect(try await client.deleteExport(volumeID: "vol-metrics").targetRemoved)

                let response = try await client.http.send(HTTPRequest(method: "GET", target: "/v1/metrics"))
                #expect(response.status == 200)
                let text = String(decoding: response.body, as: UTF8.self)
                let lines = Set(text.split(separator: "\n").map(String.init))
                #expect(lines.contains(#"tether_operations_total{kind="attach",result="ok"} 1"#), "\(text)")
                #expect(lines.contains(#"tether_operations_total{kind="attach",result="error"} 1"#), "\(text)")
                #expect(lines.contains(#"tether_operation_duration_seconds_count{operation="attach",protocol="iscsi",mode="network"} 2"#), "\(text)")
                #expect(lines.contains(#"tether_operation_duration_seconds_count{operation="detach",protocol="iscsi",mode="network"} 1"#), "\(text)")
                #expect(lines.contains(#"tether_operation_duration_seconds_count{operation="export",protocol="iscsi",mode="target"} 1"#), "\(text)")
                #expect(lines.contains(#"tether_operation_duration_seconds_bucket{operation="unexport",protocol="iscsi",mode="target",le="+Inf"} 1"#), "\(text)")
                #expect(lines.contains("tether_attachments 0.0") && lines.contains("tether_exports 0.0"), "\(text)")

                let check = try Self.promtool(text)
                #expect(check.status == 0, "promtool: \(check.output)\n\(text)")
                #expect(check.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "promtool: \(check.output)")
            }
        }
    }

    /// The check above means something only if promtool does complain: a counter without
    /// `_total` and without help text is a lint problem.
    @Test func promtoolRejectsALintProblem() throws {
        let check = try Self.promtool("# TYPE tether_bad counter\ntether_bad 1\n")
        #expect(check.status == 3, "promtool: \(check.output)")
        #expect(check.output.contains("tether_bad"), "promtool: \(check.output)")
    }
}
