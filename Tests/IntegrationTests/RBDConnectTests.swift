import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `tether connect --rbd` across two nodes (ConnectLab with its Ceph cluster on the storage
/// node's veth address): the storage node knows the cluster as "east", the compute node as
/// "ceph-prod". The export's `cluster_fsid` is what lets compute attach it; qemu-io on compute
/// reads, through Tether's QEMU JSON, data written into the image on the storage node.
@Suite(
    .tags(.integration),
    .enabled(if: (Lab.required || getuid() == 0) && Lab.runs(.openssl, .ip, .tgtd, .qemuIO, .cephMon, .cephOSD)),
    .lab(.openssl, .ip, .tgtd, .qemuIO, .cephMon, .cephOSD), .timeLimit(.minutes(3)))
struct RBDConnectTests {
    @Test func connectResolvesTheClusterByFSIDReadsWithQEMUAndDisconnectLeavesNothing() async throws {
        try await ConnectLab.with(ceph: true) { lab in
            let ceph = try #require(lab.ceph)
            // The image, made on the storage node from a file with 0x5a at 1 MiB.
            try lab.writePattern(0x5a, offset: 1 << 20, count: 65536)
            let imported = try ceph.admin(["import", lab.backing, "rbd/volume-r"], tool: "rbd")
            #expect(imported.status == 0, "\(imported.output)")
            let arguments = ["connect", "--storage", lab.url, "vol-r", "--rbd", "east/rbd/volume-r", "--timeout", "60", "--json"]

            let connected = try await lab.tether(arguments)
            #expect(connected.status == 0, "\(connected.output)\n\(lab.compute.log().suffix(3000))")
            let body = try JSONDecoder().decode(ConnectionBody.self, from: Data(connected.output.utf8))
            #expect(body.state == "attached" && body.export == "created" && body.storage == lab.url)
            let attachment = try #require(body.attachment)
            #expect(attachment.mode == .network && attachment.protocolName == "rbd" && attachment.sizeBytes == 16 << 20)
            // Compute found its own "ceph-prod" by the fsid, though the export said "east".
            #expect(attachment.details?["cluster"]?.stringValue == "ceph-prod", "\(String(describing: attachment.details))")
            #expect(attachment.details?["resolved_by"]?.stringValue == "fsid")
            #expect(attachment.details?["fsid"]?.stringValue == ceph.fsid)
            #expect(attachment.target == "rbd:\(ceph.fsid):rbd/volume-r")
            // The storage node journaled the RBD export; the attachment's key file is on compute.
            let exports = try await lab.storageClient.exports()
            #expect(exports.map(\.volumeID) == ["vol-r"] && exports.first?.protocolName == "rbd", "\(exports)")
            let secrets = try FileManager.default.contentsOfDirectory(atPath: lab.compute.stateDirectory + "/secrets")
            #expect(secrets == ["\(attachment.id).cephx"], "\(secrets)")

            // qemu-io on the compute node, through the QEMU JSON of the answer: across the veth.
            let read = try QEMU.io(attachment, command: "read -P 0x5a 1M 64k", launcher: lab.nodes.launcher(.compute))
            #expect(read.contains("read 65536/65536 bytes at offset 1048576"), "\(read)")
            let mismatch = try QEMU.io(attachment, command: "read -P 0x5a 0 512", launcher: lab.nodes.launcher(.compute))
            #expect(mismatch.contains("Pattern verification failed"), "\(mismatch)")

            // Idempotent: the same connect again answers the same attachment.
            let again = try await lab.tether(arguments)
            #expect(again.status == 0, "\(again.output)")
            let repeated = try JSONDecoder().decode(ConnectionBody.self, from: Data(again.output.utf8))
            #expect(repeated.attachment?.id == attachment.id)

            let disconnected = try await lab.tether(["disconnect", "vol-r"])
            #expect(disconnected.status == 0 && disconnected.output.contains("disconnected volume vol-r"), "\(disconnected.output)")
            try await lab.expectNothingLeft("after the RBD disconnect")
            // The image itself stays: disconnect gives up access, it deletes no data.
            #expect(try ceph.admin(["info", "rbd/volume-r"], tool: "rbd").status == 0)
            // No cephx key crossed into either node's log.
            let key = ceph.cinderKey.reveal { $0 }
            #expect(!lab.compute.log().contains(key) && !lab.storage.log().contains(key), "a log holds client.cinder's key")
        }
    }

    /// Compute also registered another cluster under the storage node's name "east": the
    /// export's name and fsid then point at two clusters here, and the connect is refused as a
    /// conflict naming both, never attached to either; the export on storage is rolled back.
    @Test func aNameRegisteredHereForAnotherClusterIsRefusedNamingBoth() async throws {
        try await ConnectLab.with(ceph: true) { lab in
            let ceph = try #require(lab.ceph)
            #expect(try ceph.admin(["create", "--size", "4", "rbd/volume-n"], tool: "rbd").status == 0)
            let impostor = UUID().uuidString.lowercased()
            _ = try await lab.computeClient.send(.addCluster(CreateClusterRequest(
                name: "east", fsid: impostor, monHost: ["v1:192.0.2.99:6789"], users: [.init(name: "cinder", key: ceph.cinderKey)])))

            let refused = try await lab.tether(["connect", "--storage", lab.url, "vol-n", "--rbd", "east/rbd/volume-n", "--timeout", "60"])
            #expect(refused.status == 4, "\(refused.output)")
            for mention in ["cluster_name \"east\"", impostor, ceph.fsid, "ceph-prod"] {
                #expect(refused.output.contains(mention), "\(mention): \(refused.output)")
            }
            try await lab.expectNothingLeft("after the refused connect")
        }
    }
}
