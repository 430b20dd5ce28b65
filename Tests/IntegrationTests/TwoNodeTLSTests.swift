import Foundation
import TetherClient
import TetherCore
import TetherTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A storage node's tetherd with the TLS listener on the veth address of its own network
/// namespace, and the `tether` CLI on a compute node (another namespace) asking it across the
/// veth: the addresses exist only on that link, so nothing else can carry the traffic.
@Suite(
    .tags(.integration), .enabled(if: (Lab.required || getuid() == 0) && Lab.runs(.openssl, .ip)), .lab(.openssl, .ip),
    .timeLimit(.minutes(2)))
struct TwoNodeTLSTests {
    static var tether: String { (AgentProcess.binary as NSString).deletingLastPathComponent + "/tether" }

    @Test func computeNodeAsksTheStorageAgentAcrossTheVeth() async throws {
        try await NodePair.with { nodes in
            try await TemporaryDirectory.with(prefix: "pki") { directory in
                let pki = TestPKI(directory: directory)
                try pki.authority("ca")
                let server = try pki.issue("storage", commonName: "storage-1", by: "ca", alternativeNames: ["IP:\(nodes.storageAddress)"])
                let compute = try pki.issue("compute", commonName: "compute-1", by: "ca")
                let url = "https://\(nodes.storageAddress):8443"
                let config = AgentTLSTests.listenerConfig(
                    listen: "\(nodes.storageAddress):8443", server: server, pki: pki, roles: #"exporters = ["compute-1"]"#)
                try await AgentProcess.with(tgtd: nil, extraConfig: config, launcher: nodes.launcher(.storage)) { agent in
                    try await AgentTLSTests.waitForListener(agent)
                    let environment = [
                        "TETHER_AGENT": url, "TETHER_CERT": compute.certificate, "TETHER_KEY": compute.key, "TETHER_CA": pki.paths("ca").certificate,
                        "TETHER_SOCKET": "/nonexistent.sock",
                    ]
                    let listed = try nodes.run(on: .compute, Self.tether, ["export", "list", "--json"], environment: environment)
                    #expect(listed.status == 0, "\(listed.output)")
                    #expect(listed.output.contains("\"exports\""), "\(listed.output)")

                    // This process's own namespace has no route to the storage node.
                    let remote = try RemoteAgent(url: url, certificateFile: compute.certificate, keyFile: compute.key, caFile: pki.paths("ca").certificate)
                    let unrouted = await #expect(throws: TetherError.self) {
                        try await TetherAgentClient(transport: TLSHTTPClient(agent: remote, timeout: .seconds(5))).health()
                    }
                    #expect(unrouted?.code == .agentUnavailable, "\(String(describing: unrouted))")

                    // The link down: the compute node's call fails within its timeout, not later.
                    try nodes.setLink(up: false)
                    let started = ContinuousClock.now
                    let cut = try nodes.run(on: .compute, Self.tether, ["health", "--timeout", "3"], environment: environment)
                    #expect(cut.status != 0, "\(cut.output)")
                    #expect(ContinuousClock.now - started < .seconds(15), "tether took \(ContinuousClock.now - started) with the link down")
                    try nodes.setLink(up: true)
                    let back = try nodes.run(on: .compute, Self.tether, ["health", "--json"], environment: environment)
                    #expect(back.status == 0, "\(back.output)")
                }
            }
        }
    }
}
