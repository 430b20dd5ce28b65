import Logging
import TetherAPI
@testable import TetherAgent
@testable import TetherCinder
import TetherCore
import TetherFakes
import Testing

/// Encrypted volumes are refused with `unsupported` in every mode, before anything is touched.
@Suite struct EncryptedVolumeTests {
    @Test(arguments: [AttachMode.network, .kernel], [JSONValue.bool(true), "true", "True", 1])
    func attachRefusesEncryptedConnectionInfo(mode: AttachMode, flag: JSONValue) async throws {
        let journal = try Journal()
        let connector = ScriptedConnector()
        let service = AttachmentService(
            journal: journal, locks: VolumeLocks(), connectors: [connector], node: ConnectorProperties(), stats: OperationStats(), logger: Logger(label: "test"))
        let info = ConnectionInfo(driverVolumeType: "iscsi", data: [
            "target_portal": "192.0.2.1:3260", "target_iqn": "iqn.2010-10.org.openstack:v1", "target_lun": 1, "volume_id": "v1", "encrypted": flag,
        ])
        let error = await #expect(throws: TetherError.self) { try await service.attach(CreateAttachmentRequest(connectionInfo: info, mode: mode)) }
        #expect(error?.code == .unsupported)
        #expect(try await journal.counts() == (0, 0, 0))
        #expect(connector.attachedIDs.isEmpty)
    }

    /// local-attach asks Cinder for the volume first: an encrypted one goes no further (no
    /// reservation, no attachment, no journal row).
    @Test(arguments: [JSONValue.bool(true), "true", "True", 1, "unknown"])
    func localAttachRefusesAnEncryptedCinderVolume(flag: JSONValue) throws {
        let volume = try #require(CinderVolume(["id": "v1", "status": "available", "encrypted": flag]))
        let error = #expect(throws: TetherError.self) { try LocalAttachService.checkAttachable(volume) }
        #expect(error?.code == .unsupported)
    }

    @Test(arguments: [JSONValue.bool(false), "false", .null])
    func localAttachTakesAnUnencryptedCinderVolume(flag: JSONValue) throws {
        let volume = try #require(CinderVolume(["id": "v1", "status": "available", "encrypted": flag]))
        try LocalAttachService.checkAttachable(volume)
        #expect(try #require(CinderVolume(["id": "v1", "status": "available"])).encrypted == false)
    }
}
