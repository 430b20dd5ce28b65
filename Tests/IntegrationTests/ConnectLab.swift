import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherTesting
import Testing

/// Two nodes for `tether connect`: network namespaces "storage" and "compute" joined by a veth
/// (the only addresses). Storage runs tgtd (portal on its veth address) and tetherd with the TLS
/// listener, giving the compute node's certificate the exporter role; compute runs tetherd with
/// `[connect]` (that certificate) and the `tether` CLI. `with` removes everything afterwards.
struct ConnectLab {
    let nodes: NodePair
    let pki: TestPKI
    let tgtd: Tgtd
    let storage: AgentProcess
    let compute: AgentProcess
    /// The backing file on the storage node, 16 MiB.
    let backing: String

    var url: String { "https://\(nodes.storageAddress):8443" }
    var storageClient: TetherAgentClient { TetherAgentClient(socketPath: storage.socketPath) }
    var computeClient: TetherAgentClient { TetherAgentClient(socketPath: compute.socketPath) }
    static var tether: String { (AgentProcess.binary as NSString).deletingLastPathComponent + "/tether" }

    /// - Parameter failpoints: `TETHER_FAILPOINTS` of the compute node's tetherd.
    static func with(failpoints: String? = nil, _ body: (ConnectLab) async throws -> Void) async throws {
        try await NodePair.with { nodes in
            try await TemporaryDirectory.with(prefix: "pki") { directory in
                let pki = TestPKI(directory: directory)
                try pki.authority("ca")
                let server = try pki.issue("storage", commonName: "storage-1", by: "ca", alternativeNames: ["IP:\(nodes.storageAddress)"])
                let client = try pki.issue("compute", commonName: "compute-1", by: "ca")
                try await Tgtd.with(portalHosts: [nodes.storageAddress], launcher: nodes.launcher(.storage)) { tgtd in
                    let backing = tgtd.directory.file("vol-c.img")
                    #expect(FileManager.default.createFile(atPath: backing, contents: Data(count: 16 << 20)))
                    let listener = AgentTLSTests.listenerConfig(
                        listen: "\(nodes.storageAddress):8443", server: server, pki: pki, roles: #"exporters = ["compute-1"]"#)
                    let storage = try AgentProcess(
                        tgtd: tgtd, initiator: "iqn.2026-11.io.tether.test:storage", extraConfig: listener, launcher: nodes.launcher(.storage))
                    defer { storage.remove() }
                    try await AgentTLSTests.waitForListener(storage)
                    // Short peer timeouts: a cut link fails the attach and the undo within seconds.
                    let connect = """
                        [connect]
                        cert = "\(client.certificate)"
                        key = "\(client.key)"
                        ca = "\(pki.paths("ca").certificate)"
                        timeout = 3
                        retry_interval = 1
                        """
                    let compute = try AgentProcess(
                        tgtd: nil, initiator: "iqn.2026-11.io.tether.test:compute", extraISCSI: "connect_timeout = 2\nlogin_timeout = 2\ncommand_timeout = 3",
                        extraConfig: connect, environment: failpoints.map { ["TETHER_FAILPOINTS": $0] } ?? [:], launcher: nodes.launcher(.compute))
                    defer { compute.remove() }
                    try await body(ConnectLab(nodes: nodes, pki: pki, tgtd: tgtd, storage: storage, compute: compute, backing: backing))
                }
            }
        }
    }

    /// `tether ARGUMENTS --socket <compute's>` run on the compute node, off the cooperative pool.
    func tether(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let command = nodes.launcher(.compute) + [Self.tether] + arguments + ["--socket", compute.socketPath]
        return try await Lab.offPool { try Lab.run(command[0], Array(command.dropFirst())) }
    }

    func connectArguments(_ volume: String = "vol-c") -> [String] {
        ["connect", "--storage", url, volume, "--path", backing, "--timeout", "60"]
    }

    /// Writes `byte` over `count` bytes at `offset` of the backing file: data written on the storage node.
    func writePattern(_ byte: UInt8, offset: UInt64, count: Int) throws {
        let handle = try #require(FileHandle(forWritingAtPath: backing))
        defer { try? handle.close() }  // Cleanup of a test file: a failed close loses nothing the test checks.
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: Data(repeating: byte, count: count))
        try handle.synchronize()
    }

    /// Nothing of the volume on either node: no export in the storage agent or tgtd, no
    /// connection, attachment or secret file on compute.
    func expectNothingLeft(_ context: String) async throws {
        #expect(try await storageClient.exports().isEmpty, "\(context): storage exports")
        #expect(try tgtd.tgtadm(["--op", "show", "--mode", "target"]).isEmpty, "\(context): tgtd targets")
        #expect(try await computeClient.connections().isEmpty, "\(context): compute connections")
        #expect(try await computeClient.attachments().isEmpty, "\(context): compute attachments")
        let secrets = (try? FileManager.default.contentsOfDirectory(atPath: compute.stateDirectory + "/secrets")) ?? []
        #expect(secrets.isEmpty, "\(context): compute secret files \(secrets)")
    }

    /// Waits until the storage node has no export and compute no connection (the undo finished).
    func waitUntilUndone(within limit: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try await storageClient.exports().isEmpty, try await computeClient.connections().isEmpty { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("the undo did not finish within \(limit): exports \(try await storageClient.exports()), connections \(try await computeClient.connections()); compute log: \(compute.log().suffix(3000))")
    }
}
