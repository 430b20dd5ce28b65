import TetherCore
@testable import TetherISCSI
import Testing

/// What the network connector makes of one path's pipelined probe (`ISCSISession.probe`): the
/// three answers come together, and the LUN's absence is named from REPORT LUNS before the
/// failures it causes in the other two.
@Suite struct NetworkISCSIProbeTests {
    static let path = ISCSIPath(portal: try! Portal(parsing: "192.0.2.1:3260"), iqn: "iqn.2026-12.io.tether:v", lun: 1)
    static let failed = TetherError(.iscsiCommandFailed, "ILLEGAL_REQUEST / LOGICAL_UNIT_NOT_SUPPORTED")

    @Test func aWholeProbeGivesTheWWIDAndSize() throws {
        let probe = LUNProbe(luns: [0, 1], vpd83: .success(SCSIDataTests.tgtVPD83), capacity: .success((bytes: 64 << 20, blockLength: 512)))
        let found = try NetworkISCSIConnector.check(probe, path: Self.path)
        #expect(found.wwid == "naa.6e05e4e28fb38e0775c5ba3f95f4088b")
        #expect(found.size == 64 << 20 && found.blockLength == 512)
    }

    @Test func aMissingLUNIsNamedBeforeTheCommandsItFailed() {
        let probe = LUNProbe(luns: [0], vpd83: .failure(Self.failed), capacity: .failure(Self.failed))
        let error = #expect(throws: TetherError.self) { try NetworkISCSIConnector.check(probe, path: Self.path) }
        #expect(error?.code == .iscsiLUNNotFound)
    }

    @Test func aFailedCommandOfAPresentLUNIsItsOwnError() {
        let noSize = LUNProbe(luns: [1], vpd83: .success(SCSIDataTests.tgtVPD83), capacity: .failure(Self.failed))
        let sizeError = #expect(throws: TetherError.self) { try NetworkISCSIConnector.check(noSize, path: Self.path) }
        #expect(sizeError?.code == .iscsiCommandFailed)
        let noIdentifier = LUNProbe(luns: [1], vpd83: .success([0, 0x83, 0, 0]), capacity: .success((bytes: 512, blockLength: 512)))
        let identifierError = #expect(throws: TetherError.self) { try NetworkISCSIConnector.check(noIdentifier, path: Self.path) }
        #expect(identifierError?.code == .iscsiCommandFailed)
    }
}
