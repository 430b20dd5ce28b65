import Foundation
import TetherCore
import TetherTesting
import Testing

/// The `tether` binary against a real tetherd and tgtd: the operator's flow, its exit codes,
/// and its JSON.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.tgtd)), .lab(.tgtd), .timeLimit(.minutes(2)))
struct CLIFlowTests {
    static var binary: String {
        (AgentProcess.binary as NSString).deletingLastPathComponent + "/tether"
    }

    static func tether(_ agent: AgentProcess, _ arguments: [String], stdin: String? = nil) throws -> (status: Int32, output: String) {
        try Lab.run(binary, arguments, environment: ["TETHER_SOCKET": agent.socketPath], stdin: stdin)
    }

    @Test func exportAttachListDetachTerminate() async throws {
        try await Tgtd.with { tgtd in
            try await AgentProcess.with(tgtd: tgtd) { agent in
                let info = agent.directory.file("ci.json")
                // Volume ids are [A-Za-z0-9._-]: ":" and "/" are refused, so none needs encoding.
                let volume = "vol.cli_1"
                let export = try Self.tether(agent, [
                    "export", "create", "--volume-id", volume, "--path", tgtd.directory.file("cli.img"), "--size", "32M",
                    "--initiator", agent.initiator, "--output", info,
                ])
                #expect(export.status == 0, "\(export.output)")
                var mode = stat()
                stat(info, &mode)
                #expect(mode.st_mode & 0o777 == 0o600)
                let password = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: info)))["data"]?["auth_password"]?.stringValue ?? ""
                #expect(!password.isEmpty && !export.output.contains(password))

                let attach = try Self.tether(agent, ["attach", "--connection-info", info, "--json"])
                #expect(attach.status == 0, "\(attach.output)")
                let body = try JSONDecoder().decode(JSONValue.self, from: Data(attach.output.utf8))
                #expect(body["volume_id"] == .string(volume))
                #expect(body["qemu"]?["blockdev"]?["file"]?["driver"] == "iscsi")

                let list = try Self.tether(agent, ["list"])
                #expect(list.status == 0 && list.output.contains(volume))
                let show = try Self.tether(agent, ["show", volume])
                #expect(show.status == 0 && show.output.contains("<disk type='network'"))
                let xml = try Self.tether(agent, ["disk-xml", volume])
                #expect(xml.status == 0 && xml.output.hasPrefix("<disk type='network' device='disk'>") && xml.output.hasSuffix("</disk>\n"))
                // The node's first attachment has the first free target; the caller may choose another.
                #expect(xml.output.contains("<target dev='vdb' bus='virtio'/>"), "\(xml.output)")
                let scsi = try Self.tether(agent, ["disk-xml", volume, "--bus", "scsi"])
                #expect(scsi.status == 0 && scsi.output.contains("<target dev='sdb' bus='scsi'/>"), "\(scsi.output)")
                let chosen = try Self.tether(agent, ["disk-xml", volume, "--target", "vdq"])
                #expect(chosen.status == 0 && chosen.output.contains("<target dev='vdq' bus='virtio'/>"), "\(chosen.output)")
                let refused = try Self.tether(agent, ["disk-xml", volume, "--target", "vdb'/><x"])
                #expect(refused.status == 2 && refused.output.contains("--target"), "\(refused.output)")

                #expect(try Self.tether(agent, ["detach", volume]).status == 0)
                let again = try Self.tether(agent, ["detach", volume])
                #expect(again.status == 0 && again.output.contains("nothing attached"))
                #expect(try Self.tether(agent, ["export", "delete", volume]).status == 0)
                #expect(try tgtd.tgtadm(["--op", "show", "--mode", "target"]).isEmpty)
            }
        }
    }

    @Test func exitCodesScriptsCanRelyOn() async throws {
        try await Tgtd.with { tgtd in
            try await AgentProcess.with(tgtd: tgtd) { agent in
                let bad = try Self.tether(agent, ["attach", "--connection-info", "-"], stdin: "{not json")
                #expect(bad.status == 2)
                #expect(bad.output.contains("error:"))
                #expect(try Self.tether(agent, ["show", "no-such-volume"]).status == 3)

                let info = agent.directory.file("ci.json")
                _ = try Self.tether(agent, ["export", "create", "--volume-id", "v2", "--path", tgtd.directory.file("v2.img"), "--size", "16M", "--initiator", agent.initiator, "--output", info])
                var wrong = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: info)))
                if case .object(var top) = wrong, case .object(var data)? = top["data"] {
                    data["auth_password"] = "wrong-password"
                    top["data"] = .object(data)
                    wrong = .object(top)
                }
                let denied = try Self.tether(agent, ["attach", "--connection-info", "-"], stdin: String(decoding: try JSONEncoder().encode(wrong), as: UTF8.self))
                #expect(denied.status == 5, "\(denied.output)")
                #expect(denied.output.contains("hint:"))

                // The CLI checks with the agent's grammars before it sends, and answers as the
                // agent would: invalid input (2), for arguments and for what a file holds.
                for arguments in [["show", "../etc"], ["detach", "vol\nx"], ["export", "delete", "v2", "--initiator", "iqn.2026-11.io.x:a\nb"],
                    ["export", "create", "--volume-id", "v3", "--path", "relative.img", "--initiator", agent.initiator], ["local-attach", String(repeating: "v", count: 200)]] {
                    let refused = try Self.tether(agent, arguments)
                    #expect(refused.status == 2 && refused.output.contains("error:") && refused.output.contains("hint:"), "\(arguments): \(refused.output)")
                }
                let encrypted = try Self.tether(
                    agent, ["attach", "--connection-info", "-"],
                    stdin: #"{"driver_volume_type": "iscsi", "data": {"target_portal": "127.0.0.1", "volume_id": "v2", "encrypted": true}}"#)
                #expect(encrypted.status == 2 && encrypted.output.contains("encrypted"), "\(encrypted.output)")

                agent.stop()
                #expect(try Self.tether(agent, ["list"]).status == 7)
            }
        }
    }
}
