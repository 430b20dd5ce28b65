import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherTesting
import Testing

/// Two nodes for `tether connect`: network namespaces "storage" and "compute" joined by a veth
/// (the only addresses). Storage runs tgtd (portal on its veth address) and tetherd with the TLS
/// listener, giving the compute node's certificate the exporter role; compute runs tetherd with
/// `[connect]` (that certificate) and the `tether` CLI. With `ceph`, storage also runs a Ceph lab
/// cluster on its veth address, registered there as "east" and on compute as "ceph-prod" (one
/// cluster, two names). `with` removes everything afterwards.
struct ConnectLab {
    let nodes: NodePair
    let pki: TestPKI
    let tgtd: Tgtd
    let storage: AgentProcess
    let compute: AgentProcess
    let ceph: CephLab?
    /// The backing file on the storage node, 16 MiB.
    let backing: String

    var url: String { "https://\(nodes.storageAddress):8443" }
    var storageClient: TetherAgentClient { TetherAgentClient(socketPath: storage.socketPath) }
    var computeClient: TetherAgentClient { TetherAgentClient(socketPath: compute.socketPath) }
    static var tether: String { (AgentProcess.binary as NSString).deletingLastPathComponent + "/tether" }

    /// - Parameters:
    ///   - failpoints: `TETHER_FAILPOINTS` of the compute node's tetherd.
    ///   - storageFailpoints: those of the storage node's tetherd.
    ///   - ceph: run the Ceph lab cluster on the storage node and register it on both.
    static func with(failpoints: String? = nil, storageFailpoints: String? = nil, ceph: Bool = false, _ body: (ConnectLab) async throws -> Void) async throws {
        try await NodePair.with { nodes in
            try await TemporaryDirectory.with(prefix: "pki") { directory in
                let pki = TestPKI(directory: directory)
                try pki.authority("ca")
                let server = try pki.issue("storage", commonName: "storage-1", by: "ca", alternativeNames: ["IP:\(nodes.storageAddress)"])
                let client = try pki.issue("compute", commonName: "compute-1", by: "ca")
                try await Tgtd.with(portalHosts: [nodes.storageAddress], launcher: nodes.launcher(.storage)) { tgtd in
                    try await withCeph(ceph ? nodes : nil) { cephLab, storageCeph, computeCeph in
                        let backing = tgtd.directory.file("vol-c.img")
                        #expect(FileManager.default.createFile(atPath: backing, contents: Data(count: 16 << 20)))
                        let listener = AgentTLSTests.listenerConfig(
                            listen: "\(nodes.storageAddress):8443", server: server, pki: pki, roles: #"exporters = ["compute-1"]"#)
                        let storage = try AgentProcess(
                            tgtd: tgtd, initiator: "iqn.2026-11.io.tether.test:storage", extraConfig: listener + "\n" + storageCeph,
                            environment: storageFailpoints.map { ["TETHER_FAILPOINTS": $0] } ?? [:], launcher: nodes.launcher(.storage))
                        defer { storage.remove() }
                        try await AgentTLSTests.waitForListener(storage)
                        // Short peer timeouts: a cut link fails the attach and the undo within
                        // seconds. An RBD export opens the image first: more time under load.
                        let connect = """
                            [connect]
                            cert = "\(client.certificate)"
                            key = "\(client.key)"
                            ca = "\(pki.paths("ca").certificate)"
                            timeout = \(ceph ? 15 : 3)
                            retry_interval = 1
                            """
                        let compute = try AgentProcess(
                            tgtd: nil, initiator: "iqn.2026-11.io.tether.test:compute", extraISCSI: "connect_timeout = 2\nlogin_timeout = 2\ncommand_timeout = 3",
                            extraConfig: connect + "\n" + computeCeph, environment: failpoints.map { ["TETHER_FAILPOINTS": $0] } ?? [:],
                            launcher: nodes.launcher(.compute))
                        defer { compute.remove() }
                        try await body(ConnectLab(nodes: nodes, pki: pki, tgtd: tgtd, storage: storage, compute: compute, ceph: cephLab, backing: backing))
                    }
                }
            }
        }
    }

    /// With `nodes`: a Ceph lab cluster "east" on the storage node's veth address (so compute
    /// reaches it only across the veth), registered in a registry of each node's own, with
    /// client.cinder's key: "east" on storage, "ceph-prod" on compute; `body` gets the `[ceph]`
    /// tables of both agents. Without: no cluster, empty tables. Stopped on success and on error.
    static func withCeph(_ nodes: NodePair?, _ body: (CephLab?, _ storage: String, _ compute: String) async throws -> Void) async throws {
        guard let nodes else { return try await body(nil, "", "") }
        let base = CephLab.nextBasePort()
        let lab = try await Lab.offPool {
            try CephLab(name: "east", basePort: base, address: nodes.storageAddress, launcher: nodes.launcher(.storage))
        }
        do {
            try await TemporaryDirectory.with(prefix: "reg") { storageRegistry in
                try await TemporaryDirectory.with(prefix: "reg") { computeRegistry in
                    try await lab.register(in: storageRegistry.path)
                    try await lab.register(in: computeRegistry.path, as: "ceph-prod")
                    try await body(lab, Lab.cephConfig(registry: storageRegistry), Lab.cephConfig(registry: computeRegistry))
                }
            }
        } catch {
            _ = try? await Lab.offPool { lab.stop() }  // stop() never throws; offPool only keeps its waits off the pool
            throw error
        }
        _ = try? await Lab.offPool { lab.stop() }  // as above
    }

    /// `tether ARGUMENTS --socket <compute's>` run on the compute node, off the cooperative pool.
    func tether(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let command = nodes.launcher(.compute) + [Self.tether] + arguments + ["--socket", compute.socketPath]
        return try await Lab.offPool { try Lab.run(command[0], Array(command.dropFirst())) }
    }

    func connectArguments(_ volume: String = "vol-c") -> [String] {
        ["connect", "--storage", url, volume, "--path", backing, "--timeout", "120"]
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
