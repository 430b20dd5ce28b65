import Foundation
import TetherAPI
import TetherCeph
import TetherClient
import TetherCore
import TetherLinux
import TetherRBD
import TetherTesting
import Testing

/// Network-mode RBD through tetherd against two real Ceph clusters holding the same pool and image
/// names, with qemu-io reading what librbd wrote through Tether's QEMU JSON.
// Serialized: each test runs two Ceph clusters; more at once overload a 2-core machine.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.cephMon, .cephOSD, .qemuIO)), .lab(.cephMon, .cephOSD, .qemuIO), .timeLimit(.minutes(3)), .serialized)
struct AgentRBDTests {
    static func register(_ lab: CephLab, in directory: String) async throws {
        try await lab.register(in: directory)
    }

    /// The connection_info Cinder's RBD driver sends: v1 ports as strings, no key.
    static func connectionInfo(_ lab: CephLab, volume: String, clusterName: String?) -> ConnectionInfo {
        var data: [String: JSONValue] = [
            "name": "rbd/volume-1", "hosts": .array([.string(lab.monitorV1.host)]), "ports": .array([.string(String(lab.monitorV1.port))]),
            "auth_enabled": true, "auth_username": "cinder", "secret_type": "ceph", "volume_id": .string(volume), "discard": true,
            "access_mode": "rw",
        ]
        if let clusterName { data["cluster_name"] = .string(clusterName) }
        return ConnectionInfo(driverVolumeType: "rbd", data: data)
    }

    @Test func volumesFromTwoClustersWithTheSameNamesStayApart() async throws {
        try await CephLab.withTwo { a, b in
            try await TemporaryDirectory.with(prefix: "reg") { registry in
                try await Self.register(a, in: registry.path)
                try await Self.register(b, in: registry.path)
                for (lab, byte) in [(a, UInt8(0xaa)), (b, UInt8(0xbb))] {
                    let connection = try await RADOSConnection.connect(clusterName: lab.name, monitors: lab.monitors, user: "cinder", key: lab.cinderKey)
                    try await connection.createImage(pool: "rbd", image: "volume-1", size: 8 << 20)
                    try await connection.write(pool: "rbd", image: "volume-1", offset: 0, data: [UInt8](repeating: byte, count: 65536))
                }
                let cephDirectory = registry.file("ceph")
                let config = Lab.cephConfig(registry: registry, cephDirectory: cephDirectory)
                try await AgentProcess.with(tgtd: nil, extraConfig: config) { agent in
                    let client = TetherAgentClient(socketPath: agent.socketPath)
                    // A by its cluster name; B by its monitors only.
                    let (diskA, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: Self.connectionInfo(a, volume: "vol-a", clusterName: "ceph-a")))
                    let (diskB, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: Self.connectionInfo(b, volume: "vol-b", clusterName: nil)))
                    #expect(diskA.sizeBytes == 8 << 20)
                    #expect(diskA.diskXML?.contains("\(cephDirectory)/ceph-a.conf") == true)
                    #expect(diskB.diskXML?.contains("\(cephDirectory)/ceph-b.conf") == true)
                    #expect(diskA.diskXML?.contains("port='\(a.monitorV1.port)'") == true)
                    #expect(diskB.diskXML?.contains("port='\(b.monitorV1.port)'") == true)

                    let readA = try QEMU.io(diskA, command: "read -P 0xaa 0 65536")
                    #expect(readA.contains("read 65536/65536"), "\(readA)")
                    let readB = try QEMU.io(diskB, command: "read -P 0xbb 0 65536")
                    #expect(readB.contains("read 65536/65536"), "\(readB)")

                    var mode = stat()
                    stat("\(cephDirectory)/ceph-a.client.cinder.keyring", &mode)
                    #expect(mode.st_mode & 0o777 == 0o600)
                    let conf = try String(contentsOfFile: "\(cephDirectory)/ceph-b.conf", encoding: .utf8)
                    #expect(conf.hasPrefix(CephFileSet.header) && conf.contains(b.fsid))
                    #expect(!agent.log().contains(a.cinderKey.reveal { $0 }))

                    _ = try await client.detach("vol-a")
                    _ = try await client.detach("vol-b")
                    #expect(try FileManager.default.contentsOfDirectory(atPath: agent.stateDirectory + "/secrets").isEmpty)
                }
            }
        }
    }

    @Test func badRBDRequestsAreClearAndChangeNothing() async throws {
        try await CephLab.withTwo { a, _ in
            try await TemporaryDirectory.with(prefix: "reg") { registry in
                try await Self.register(a, in: registry.path)
                let config = Lab.cephConfig(registry: registry)
                try await AgentProcess.with(tgtd: nil, extraConfig: config) { agent in
                    let client = TetherAgentClient(socketPath: agent.socketPath)
                    let unknown = await #expect(throws: TetherError.self) {
                        try await client.attach(CreateAttachmentRequest(connectionInfo: Self.connectionInfo(a, volume: "v1", clusterName: "ceph-z")))
                    }
                    #expect(unknown?.code == .notFound)
                    #expect(unknown?.message.contains("ceph-z") == true)
                    let missing = await #expect(throws: TetherError.self) {
                        try await client.attach(CreateAttachmentRequest(connectionInfo: Self.connectionInfo(a, volume: "v2", clusterName: "ceph-a")))
                    }
                    #expect(missing?.code == .notFound)
                    // Another client (a running VM, say) holds the image's exclusive lock.
                    let other = try await RADOSConnection.connect(clusterName: a.name, monitors: a.monitors, user: "cinder", key: a.cinderKey)
                    try await other.createImage(pool: "rbd", image: "volume-1", size: 4 << 20)
                    let lock = try await other.holdExclusiveLock(pool: "rbd", image: "volume-1")
                    let locked = await #expect(throws: TetherError.self) {
                        try await client.attach(CreateAttachmentRequest(connectionInfo: Self.connectionInfo(a, volume: "v4", clusterName: "ceph-a")))
                    }
                    #expect(locked?.code == .conflict)
                    #expect(locked?.message.contains("holds its exclusive lock") == true)
                    // --force takes over only from a fenced client (AgentFencingTests).
                    let forced = await #expect(throws: TetherError.self) {
                        try await client.attach(CreateAttachmentRequest(connectionInfo: Self.connectionInfo(a, volume: "v4", clusterName: "ceph-a"), force: true))
                    }
                    #expect(forced?.code == .conflict)
                    let shared = try await client.attach(
                        CreateAttachmentRequest(connectionInfo: Self.connectionInfo(a, volume: "v4", clusterName: "ceph-a"), readOnly: true))
                    #expect(shared.created)
                    // The attachment reports who holds the lock and who watches the image.
                    #expect(shared.attachment.details?["lock_owners"]?.arrayValue?.count == 1)
                    #expect(shared.attachment.details?["watchers"]?.arrayValue?.isEmpty == false)
                    #expect(shared.attachment.details?["features"]?.arrayValue?.contains("exclusive-lock") == true)
                    _ = try await client.detach("v4")
                    await lock.release()

                    var elsewhere = Self.connectionInfo(a, volume: "v3", clusterName: nil)
                    elsewhere.data["hosts"] = ["192.0.2.99"]
                    let noMatch = await #expect(throws: TetherError.self) { try await client.attach(CreateAttachmentRequest(connectionInfo: elsewhere)) }
                    #expect(noMatch?.code == .notFound)
                    #expect(noMatch?.message.contains("192.0.2.99") == true)
                    let health = try await client.health()
                    #expect(health.attachments == 0)
                }
            }
        }
    }
}

/// initialize_connection for RBD (target side), then attach from that answer alone.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.cephMon, .cephOSD)), .lab(.cephMon, .cephOSD), .timeLimit(.minutes(3)), .serialized)
struct AgentRBDExportTests {
    @Test func exportOnAThenAttachWithNoOtherHintResolvesToA() async throws {
        try await CephLab.withTwo { a, b in
            try await TemporaryDirectory.with(prefix: "reg") { registry in
                try await AgentRBDTests.register(a, in: registry.path)
                try await AgentRBDTests.register(b, in: registry.path)
                for (lab, byte) in [(a, UInt8(0xa1)), (b, UInt8(0xb2))] {
                    let connection = try await RADOSConnection.connect(clusterName: lab.name, monitors: lab.monitors, user: "cinder", key: lab.cinderKey)
                    try await connection.createImage(pool: "rbd", image: "volume-x", size: 4 << 20)
                    try await connection.write(pool: "rbd", image: "volume-x", offset: 0, data: [UInt8](repeating: byte, count: 4096))
                }
                let config = Lab.cephConfig(registry: registry)
                try await AgentProcess.with(tgtd: nil, extraConfig: config) { agent in
                    let client = TetherAgentClient(socketPath: agent.socketPath)
                    let request = CreateExportRequest(
                        volume: .init(id: "vol-x", rbd: .init(cluster: "ceph-a", pool: "rbd", image: "volume-x")),
                        connector: ConnectorProperties(initiator: agent.initiator))
                    let (export, created) = try await client.createExport(request)
                    #expect(created, "the first export of vol-x must say it was created")
                    let (repeated, createdAgain) = try await client.createExport(request)
                    #expect(!createdAgain, "a repeat must say it already existed")
                    #expect(repeated.connectionInfo == export.connectionInfo)
                    #expect(try await client.send(.exports).exports.map(\.volumeID) == ["vol-x"])
                    // The same volume id cannot name another image.
                    var other = request
                    other.volume.rbd = .init(cluster: "ceph-b", pool: "rbd", image: "volume-x")
                    let clash = await #expect(throws: TetherError.self) { try await client.createExport(other) }
                    #expect(clash?.code == .invalidInput && clash?.message.hasPrefix("volume.rbd") == true, "\(String(describing: clash))")
                    let data = try RBDConnectionData(export.connectionInfo)
                    #expect(data.clusterName == "ceph-a")
                    #expect(data.clusterFSID == UUID(uuidString: a.fsid))
                    #expect(data.monitors == [a.monitorV1])
                    #expect(export.connectionInfo.data["ports"] == .array([.string(String(a.monitorV1.port))]))
                    #expect(data.secretUUID != nil && data.keyring == nil)
                    #expect(export.export.protocolName == "rbd")

                    // Strip the cluster's fsid and name and the secret UUID: only the monitors remain as a hint.
                    var bare = export.connectionInfo
                    bare.data["cluster_fsid"] = nil
                    bare.data["cluster_name"] = nil
                    bare.data["secret_uuid"] = nil
                    let (attachment, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: bare))
                    #expect(attachment.diskXML?.contains("ceph-a.conf") == true)
                    let read = try QEMU.io(attachment, command: "read -P 0xa1 0 4096")
                    #expect(read.contains("read 4096/4096"), "\(read)")

                    let missing = CreateExportRequest(
                        volume: .init(id: "vol-y", rbd: .init(cluster: "ceph-b", pool: "rbd", image: "nope")), connector: ConnectorProperties())
                    let error = await #expect(throws: TetherError.self) { try await client.createExport(missing) }
                    #expect(error?.code == .notFound)
                    let deletion = try await client.deleteExport(volumeID: "vol-x")
                    #expect(deletion.initiatorsRemoved.isEmpty && deletion.targetRemoved)
                    #expect(try await client.send(.exports).exports.isEmpty)
                    #expect(try await client.createExport(request).created, "after a delete, an export is new again")
                }
            }
        }
    }
}
