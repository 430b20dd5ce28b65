import Foundation
import TetherAPI
import TetherCore
import TetherFakes
import Testing

/// `tether doctor` against a fake agent: the table, the hints, and the exit code (0 unless a
/// finding failed; the error's code when tetherd cannot be asked).
@Suite(.timeLimit(.minutes(2)))
struct CLIDoctorTests {
    static func answer(_ findings: [DoctorFinding]) throws -> String {
        FakeAgent.json(200, String(decoding: try JSONEncoder().encode(DoctorReport(findings: findings)), as: UTF8.self))
    }

    @Test func aFailedFindingExits1WithItsHint() throws {
        let answer = try Self.answer([
            DoctorFinding(.kernelModules, .ok, "iscsi_tcp is loaded"),
            DoctorFinding(.multipathd, .skipped, "[multipath] is not enabled"),
            DoctorFinding(.clockSkew, .warning, "the monitors of cluster ceph-a are +0.200 s off", hint: "synchronise the clock"),
            DoctorFinding(.journal, .failed, "vol-mp (attachment a1, iscsi kernel): path 192.0.2.11:3260 lost", hint: "check the portal"),
        ])
        let run = try FakeAgent.with(answer: answer) { socket in try CLI.run(["doctor"], socket: socket) }
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("CHECK") == true)
        #expect(lines.contains { $0.hasPrefix("journal ") && $0.contains(" failed ") && $0.contains("path 192.0.2.11:3260 lost") }, "\(run.stdout)")
        #expect(lines.contains { $0.hasPrefix("multipathd ") && $0.contains(" skipped ") })
        #expect(lines.contains("hint: journal: check the portal"))
        #expect(lines.contains("hint: clock-skew: synchronise the clock"))
        #expect(lines.last == "doctor: FAILED (1 ok, 1 warning, 1 failed, 1 skipped)")
    }

    @Test func warningsAloneExit0() throws {
        let answer = try Self.answer([
            DoctorFinding(.socket, .ok, "fine"), DoctorFinding(.udevRules, .warning, "differs", hint: "reinstall"),
        ])
        let run = try FakeAgent.with(answer: answer) { socket in try CLI.run(["doctor"], socket: socket) }
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.hasSuffix("doctor: ok (1 ok, 1 warning, 0 failed, 0 skipped)\n"), "\(run.stdout)")
    }

    @Test func jsonPrintsTheAgentsAnswerAndKeepsTheExitCode() throws {
        let answer = try Self.answer([DoctorFinding(.journal, .failed, "gone", hint: "detach")])
        let run = try FakeAgent.with(answer: answer) { socket in try CLI.run(["doctor", "--json"], socket: socket) }
        #expect(run.status == 1)
        let report = try JSONDecoder().decode(DoctorReport.self, from: Data(run.stdout.utf8))
        #expect(!report.ok)
        #expect(report.findings.map(\.check) == [.journal])
    }

    @Test func anUnreachableAgentIsAFailedFindingAndExit7() throws {
        let directory = try TemporaryDirectory(prefix: "doc")
        defer { directory.remove() }
        let run = try CLI.run(["doctor"], socket: directory.file("none.sock"))
        #expect(run.status == 7)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("agent ") && $0.contains(" failed ") && $0.contains("cannot reach tetherd") }, "\(run.stdout)")
        #expect(lines.contains { $0.hasPrefix("hint: agent: ") })
        #expect(lines.last?.hasPrefix("doctor: FAILED") == true)

        let json = try CLI.run(["doctor", "--json"], socket: directory.file("none.sock"))
        #expect(json.status == 7)
        #expect(json.stdout.isEmpty)
        #expect(try JSONDecoder().decode(ErrorBody.self, from: Data(json.stderr.utf8)).error.code == "agent_unavailable")
    }
}
