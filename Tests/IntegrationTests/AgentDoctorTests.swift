import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherTesting
import Testing

/// `GET /v1/doctor` and `tether doctor` against a live tetherd whose configuration uses kernel
/// mode, multipath and a Ceph cluster, on a `system_root` that holds none of it (an empty
/// directory: no modules, no iscsid, no udev) and monitors that do not answer. The answer fits
/// docs/openapi.json, names every check, and fails those whose prerequisites are missing.
@Suite(.tags(.integration), .timeLimit(.minutes(2)))
struct AgentDoctorTests {
    @Test func aNodeWithoutItsPrerequisitesFailsTheDoctor() async throws {
        try await TemporaryDirectory.with(prefix: "doc") { root in
            let registry = root.file("registry")
            try FileManager.default.createDirectory(atPath: registry + "/clusters.d", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: registry + "/keys", withIntermediateDirectories: true)
            try "AQAA8VNlAAAAABAAAAsWISw3Qk1YY255hI+apQ==\n".write(toFile: registry + "/keys/dead.client.cinder.key", atomically: true, encoding: .utf8)
            chmod(registry + "/keys/dead.client.cinder.key", 0o600)
            // Nothing listens on port 1 in the test's network namespace.
            try """
                name = "dead"
                fsid = "0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c"
                mon_host = ["127.0.0.1:1"]
                [user.cinder]
                key_file = "\(registry)/keys/dead.client.cinder.key"
                """.write(toFile: registry + "/clusters.d/dead.toml", atomically: true, encoding: .utf8)
            let empty = root.file("system")
            try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
            let initiatorFile = root.file("initiatorname.iscsi")
            try "InitiatorName=iqn.2026-11.io.tether.test:node1\n".write(toFile: initiatorFile, atomically: true, encoding: .utf8)
            let config = """
                [multipath]
                enabled = true
                [local_attach]
                mode = "kernel"
                [ceph]
                registry_dir = "\(registry)"
                ceph_dir = "\(root.file("ceph"))"
                connect_timeout = 2
                """
            try await AgentProcess.with(tgtd: nil, extraRoot: "system_root = \"\(empty)\"", extraISCSI: "initiator_file = \"\(initiatorFile)\"", extraConfig: config) { agent in
                let response = try await UnixHTTPClient(socketPath: agent.socketPath, timeout: .seconds(60))
                    .send(HTTPRequest(method: "GET", target: "/v1/doctor"))
                #expect(response.status == 200)
                let json = try JSONDecoder().decode(JSONValue.self, from: response.body)
                let document = try OpenAPIDocument.repository()
                #expect(document.problems(answer: json, status: 200, of: .init(method: "GET", path: "/v1/doctor")) == [])

                let report = try JSONDecoder().decode(DoctorReport.self, from: response.body)
                #expect(!report.ok)
                #expect(Set(report.findings.map(\.check)) == Set(DoctorCheck.agentChecks))
                func statuses(_ check: DoctorCheck) -> Set<DoctorFinding.Status> { Set(report.findings.filter { $0.check == check }.map(\.status)) }
                for check in [DoctorCheck.kernelModules, .iscsid, .multipathd, .udevRules, .clockSkew] {
                    #expect(statuses(check) == [.failed], "\(check): \(report.findings.filter { $0.check == check })")
                }
                #expect(report.findings.filter { $0.check == .kernelModules }.map { String($0.message.prefix { $0 != " " }) } == ["iscsi_tcp", "dm_multipath", "rbd"])
                #expect(report.findings.first { $0.check == .clockSkew }?.message.contains("cannot ask the monitors of cluster dead") == true)
                // What holds here: the agent's own socket, files and name, an empty journal.
                for check in [DoctorCheck.initiatorName, .socket, .cephPermissions, .journal] {
                    #expect(statuses(check) == [.ok], "\(check): \(report.findings.filter { $0.check == check })")
                }
                #expect(statuses(.libvirt) == [.skipped])
                #expect(report.findings.filter { $0.status == .failed || $0.status == .warning }.allSatisfy { $0.hint?.isEmpty == false })

                let human = try Lab.run(CLIFlowTests.binary, ["doctor"], environment: ["TETHER_SOCKET": agent.socketPath])
                #expect(human.status == 1, "\(human.output)")
                let lines = human.output.split(separator: "\n").map(String.init)
                for check in ["kernel-modules", "iscsid", "multipathd", "udev-rules", "clock-skew"] {
                    #expect(lines.contains { $0.hasPrefix(check + " ") && $0.contains(" failed ") }, "\(check) in \(human.output)")
                }
                #expect(lines.contains { $0.hasPrefix("hint: iscsid: ") })
                #expect(lines.last?.hasPrefix("doctor: FAILED") == true)

                let machine = try Lab.run(CLIFlowTests.binary, ["doctor", "--json"], environment: ["TETHER_SOCKET": agent.socketPath])
                #expect(machine.status == 1)
                #expect(try JSONDecoder().decode(DoctorReport.self, from: Data(machine.output.utf8)).ok == false)
            }
        }
    }
}

/// The clock-skew check against real monitors: this node's clock is theirs (one machine), so each
/// cluster's skew is within the window the question took.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.cephMon, .cephOSD)), .lab(.cephMon, .cephOSD), .timeLimit(.minutes(3)), .serialized)
struct AgentDoctorCephTests {
    @Test func theMonitorsClocksAreAskedThroughRADOS() async throws {
        try await CephLab.withTwo { a, b in
            try await TemporaryDirectory.with(prefix: "reg") { registry in
                try await a.register(in: registry.path)
                try await b.register(in: registry.path)
                let config = Lab.cephConfig(registry: registry, cephDirectory: registry.file("ceph"))
                try await AgentProcess.with(tgtd: nil, extraConfig: config) { agent in
                    let report = try await TetherAgentClient(socketPath: agent.socketPath).send(.doctor)
                    let clock = report.findings.filter { $0.check == .clockSkew }
                    #expect(clock.map(\.status) == [.ok, .ok], "\(clock)")
                    #expect(clock.map { String($0.message.prefix(15)) } == ["cluster ceph-a:", "cluster ceph-b:"])
                    #expect(clock.allSatisfy { $0.message.contains("skew +0.000 s") }, "\(clock)")
                    let permissions = report.findings.filter { $0.check == .cephPermissions }
                    #expect(permissions.map(\.status) == [.ok], "\(permissions)")
                }
            }
        }
    }
}
