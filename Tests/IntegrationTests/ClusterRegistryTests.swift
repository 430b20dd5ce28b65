import Foundation
import TetherAPI
import TetherCeph
import TetherClient
import TetherCore
import TetherRBD
import TetherTesting
import Testing

/// The cluster registry end to end: files a deployment tool wrote before the agent started, a
/// broken file beside them, and `tether cluster add|show|remove|sync` through the real binaries.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.cephMon, .cephOSD)), .lab(.cephMon, .cephOSD), .timeLimit(.minutes(3)), .serialized)
struct ClusterRegistryTests {
    @Test func registryFromFilesAndFromTheCLI() async throws {
        try await CephLab.withTwo { a, b in
            try await TemporaryDirectory.with(prefix: "reg") { registry in
                // B is written by "a deployment tool" before the agent starts; a broken file sits beside it.
                try await AgentRBDTests.register(b, in: registry.path)
                try "name = \"broken\"\nfsid = not-a-uuid\n".write(toFile: CephRegistry.clusterFile(name: "broken", directory: registry.path), atomically: true, encoding: .utf8)
                let cephDirectory = registry.file("ceph")
                let config = Lab.cephConfig(registry: registry, cephDirectory: cephDirectory)
                try await AgentProcess.with(tgtd: nil, extraConfig: config) { agent in
                    let client = TetherAgentClient(socketPath: agent.socketPath)
                    let health = try await client.health()
                    #expect(health.status == "degraded")
                    #expect(health.problems?.first?.contains("broken.toml") == true)

                    // A through the CLI: the key comes from a file, never the command line. Every
                    // command line on the machine is read while the CLI, the agent and the attach run.
                    let watch = CommandLineWatch(for: [a.cinderKey.reveal { $0 }])
                    let keyFile = registry.file("a.key")
                    try a.cinderKey.reveal { try $0.write(toFile: keyFile, atomically: true, encoding: .utf8) }
                    let add = try CLIFlowTests.tether(agent, [
                        "cluster", "add", "--name", "ceph-a", "--fsid", a.fsid, "--mon-host", a.monitors, "--user", "cinder=\(keyFile)",
                    ])
                    #expect(add.status == 0, "\(add.output)")
                    let list = try CLIFlowTests.tether(agent, ["cluster", "list"])
                    #expect(list.output.contains("ceph-a") && list.output.contains("ceph-b") && list.output.contains("broken.toml"))

                    var mode = stat()
                    stat(CephRegistry.defaultKeyFile(cluster: "ceph-a", user: "cinder", directory: registry.path), &mode)
                    #expect(mode.st_mode & 0o777 == 0o600)
                    stat(CephFileSet.keyringPath(cluster: "ceph-a", user: "cinder", cephDirectory: cephDirectory), &mode)
                    #expect(mode.st_mode & 0o777 == 0o600)
                    #expect(FileManager.default.fileExists(atPath: CephFileSet.confPath(cluster: "ceph-b", cephDirectory: cephDirectory)))

                    // Both clusters serve attaches: A (added at run time) and B (from files).
                    let connection = try await RADOSConnection.connect(clusterName: a.name, monitors: a.monitors, user: "cinder", key: a.cinderKey)
                    try await connection.createImage(pool: "rbd", image: "volume-1", size: 4 << 20)
                    let (attachment, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: AgentRBDTests.connectionInfo(a, volume: "va", clusterName: "ceph-a")))
                    #expect(attachment.state == "attached")
                    _ = try await client.detach("va")
                    let report = watch.stop()
                    #expect(report.offending.isEmpty, "\(report.offending)")
                    #expect(report.passes > 1 && report.seen[agent.pid] != nil)

                    // Removing A leaves nothing of it behind; B stays.
                    let remove = try CLIFlowTests.tether(agent, ["cluster", "remove", "ceph-a"])
                    #expect(remove.status == 0, "\(remove.output)")
                    let leftovers = try FileManager.default.subpathsOfDirectory(atPath: registry.path).filter { $0.contains("ceph-a") }
                    #expect(leftovers.isEmpty, "\(leftovers)")
                    #expect(FileManager.default.fileExists(atPath: CephFileSet.confPath(cluster: "ceph-b", cephDirectory: cephDirectory)))
                    #expect(try CLIFlowTests.tether(agent, ["cluster", "show", "ceph-a"]).status == 3)

                    #expect(!agent.log().contains(a.cinderKey.reveal { $0 }))
                    #expect(!agent.log().contains(b.cinderKey.reveal { $0 }))
                }
            }
        }
    }
}
