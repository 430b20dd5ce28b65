import Foundation
import Logging
import TetherCore
import TetherISCSI
import TetherLinux
import TetherTarget
import TetherTesting
import Testing

/// The exporter and the network connector against a real tgtd, without the agent.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.tgtd)), .lab(.tgtd), .timeLimit(.minutes(2)))
struct TgtConnectorTests {
    static let initiator = "iqn.2026-11.io.tether.test:node1"

    static func spec(_ directory: TemporaryDirectory, volume: String = "vol-1", tid: Int = 1, grants: [ExportGrant]) throws -> ExportSpec {
        let path = directory.file("\(volume).img")
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        try FileHandle(forWritingAtPath: path)!.truncate(atOffset: 16 << 20)
        return ExportSpec(
            volume: ExportVolume(id: volume, path: path), targetNumber: tid, targetIQN: "iqn.2026-11.io.tether:\(volume)", lun: 1,
            scsiID: ExportSpec.scsiID(forVolume: volume), grants: grants)
    }

    @Test func exportThenProbeEveryPath() async throws {
        try await Tgtd.with { tgtd in
            let exporter = TgtExporter(control: TgtSocketControl(socketBase: tgtd.socketBase, controlPort: tgtd.controlPort), portals: tgtd.portals, logger: Logger(label: "test"))
            let grant = ExportGrant(initiator: Self.initiator, chap: CHAPCredentials(username: "tether-u1", password: .random()))
            let spec = try Self.spec(tgtd.directory, grants: [grant])
            try await exporter.apply(spec)
            try await exporter.apply(spec)  // idempotent

            let state = try await exporter.targets()
            #expect(state.count == 1)
            #expect(state.first?.acl == [Self.initiator])
            #expect(state.first?.accounts == ["tether-u1"])
            #expect(state.first?.logicalUnits.last?.scsiID == spec.scsiID)

            let host = FakeHost()
            let connector = NetworkISCSIConnector(host: host, secretDirectory: "/secrets")
            let info = spec.connectionInfo(for: grant, portals: tgtd.portals)
            let request = AttachRequest(
                attachmentID: "a1", volumeID: "vol-1", connectionInfo: info, mode: .network, accessMode: .readWrite,
                connector: ConnectorProperties(initiator: Self.initiator))
            let attached = try await connector.attach(request)
            #expect(attached.paths.count == 2)
            #expect(attached.paths.allSatisfy { $0.state == "ok" })
            #expect(attached.wwid == "naa." + spec.wwid)
            #expect(attached.sizeBytes == 16 << 20)
            #expect(host.file("/secrets/a1.chap")?.mode == 0o600)

            try await exporter.remove(spec)
            #expect(try await exporter.targets().isEmpty)
        }
    }
}

extension Tag {
    @Tag static var integration: Self
}
