import TetherCore
@testable import TetherISCSI
import Testing

@Suite struct SCSIDataTests {
    /// VPD page 0x83 as tgt 1.0.85 returns it for a LUN with scsi_id=e05e4e28fb38e0775c5ba3f95f4088b:
    /// a T10 vendor id, an 8-byte NAA 3, then the 16-byte NAA 6 that carries the scsi_id.
    static let tgtVPD83: [UInt8] = [
        0x00, 0x83, 0x00, 0x48, 0x02, 0x01, 0x00, 0x24, 0x65, 0x30, 0x35, 0x65, 0x34, 0x65, 0x32, 0x38, 0x66, 0x62, 0x33, 0x38,
        0x65, 0x30, 0x37, 0x37, 0x35, 0x63, 0x35, 0x62, 0x61, 0x33, 0x66, 0x39, 0x35, 0x66, 0x34, 0x30, 0x38, 0x38, 0x62, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x00, 0x08, 0x30, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x01, 0x03, 0x00, 0x10,
        0x6e, 0x05, 0xe4, 0xe2, 0x8f, 0xb3, 0x8e, 0x07, 0x75, 0xc5, 0xba, 0x3f, 0x95, 0xf4, 0x08, 0x8b,
    ]

    @Test func picksTheLongestNAA() {
        #expect(SCSIData.wwid(vpd83: Self.tgtVPD83) == "naa.6e05e4e28fb38e0775c5ba3f95f4088b")
        #expect(SCSIData.designators(vpd83: Self.tgtVPD83).map(\.type) == [1, 3, 3])
    }

    @Test func fallsBackToEUIThenT10() {
        let eui: [UInt8] = [0, 0x83, 0, 12, 0x01, 0x02, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]
        #expect(SCSIData.wwid(vpd83: eui) == "eui.0102030405060708")
        let t10: [UInt8] = [0, 0x83, 0, 12, 0x02, 0x01, 0, 8] + Array("LIO ORG ".utf8)
        #expect(SCSIData.wwid(vpd83: t10) == "t10.LIO ORG")
    }

    @Test func ignoresTargetPortDesignatorsAndTruncation() {
        // Association 1 (target port) is not the LUN's identity.
        let port: [UInt8] = [0, 0x83, 0, 12, 0x01, 0x13, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]
        #expect(SCSIData.wwid(vpd83: port) == nil)
        #expect(SCSIData.wwid(vpd83: Array(Self.tgtVPD83.prefix(10))) != "naa.6e05e4e28fb38e0775c5ba3f95f4088b")
        #expect(SCSIData.wwid(vpd83: [0, 0x80, 0, 0]) == nil)
    }

    @Test func reportLUNsPeripheralAndFlat() {
        let data: [UInt8] = [0, 0, 0, 24, 0, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 0] + [0, 1, 0, 0, 0, 0, 0, 0] + [0x41, 0x05, 0, 0, 0, 0, 0, 0]
        #expect(SCSIData.reportedLUNs(data) == [0, 1, 0x105])
    }

    @Test func capacity16() {
        let data: [UInt8] = [0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0, 0, 2, 0] + Array(repeating: 0, count: 20)
        let capacity = SCSIData.capacity16(data)
        #expect(capacity?.lastLBA == 0x7fff)
        #expect(capacity?.blockLength == 512)
        #expect(SCSIData.capacity16([1, 2, 3]) == nil)
    }

    @Test(arguments: [
        ("Failed to log in to target. Status: Authentication failure(513)", TetherError.Code.iscsiAuthFailed),
        ("Failed to log in to target. Status: Target not found(515)", .iscsiNotAuthorized),
        ("Failed to log in to target. Status: Authorization failure(514)", .iscsiNotAuthorized),
        ("Failed to log in to target. Status: Target removed(517)", .iscsiLoginFailed),
        ("connect() failed: Connection refused", .iscsiUnreachable),
        ("Authentication failed. Invalid CHAP_R response from the target", .iscsiAuthFailed),
    ])
    func classifiesLibiscsiErrors(text: String, code: TetherError.Code) {
        let error = ISCSIFailure.classify(what: "login", portal: Portal(host: "192.0.2.1", port: 3260), target: "iqn.x:y", libiscsiError: text, timedOut: false)
        #expect(error.code == code)
    }
}

@Suite struct PathAgreementTests {
    static func probe(_ portal: String, _ result: Result<(wwid: String, size: UInt64, blockLength: UInt32), TetherError>) -> NetworkISCSIConnector.Probe {
        NetworkISCSIConnector.Probe(path: ISCSIPath(portal: try! Portal(parsing: portal), iqn: "iqn.x:y", lun: 1), result: result)
    }

    @Test func oneHealthyPathIsEnough() throws {
        let chosen = try NetworkISCSIConnector.agree(on: [
            Self.probe("10.0.0.1:3260", .failure(TetherError(.iscsiUnreachable, "down"))),
            Self.probe("10.0.0.2:3260", .success(("naa.6a", 1 << 20, 512))),
        ])
        #expect(chosen.path.portal.host == "10.0.0.2")
    }

    @Test func differentWWIDsAreRefused() {
        let error = #expect(throws: TetherError.self) {
            try NetworkISCSIConnector.agree(on: [
                Self.probe("10.0.0.1:3260", .success(("naa.6a", 1 << 20, 512))),
                Self.probe("10.0.0.2:3260", .success(("naa.6b", 1 << 20, 512))),
            ])
        }
        #expect(error?.code == .iscsiWWIDMismatch)
    }

    @Test func differentSizesAreRefused() {
        let error = #expect(throws: TetherError.self) {
            try NetworkISCSIConnector.agree(on: [
                Self.probe("10.0.0.1:3260", .success(("naa.6a", 1 << 20, 512))),
                Self.probe("10.0.0.2:3260", .success(("naa.6a", 2 << 20, 512))),
            ])
        }
        #expect(error?.code == .iscsiWWIDMismatch)
    }

    @Test func allFailedReportsTheMostTellingCause() {
        let error = #expect(throws: TetherError.self) {
            try NetworkISCSIConnector.agree(on: [
                Self.probe("10.0.0.1:3260", .failure(TetherError(.iscsiUnreachable, "down"))),
                Self.probe("10.0.0.2:3260", .failure(TetherError(.iscsiAuthFailed, "chap"))),
            ])
        }
        #expect(error?.code == .iscsiAuthFailed)
    }
}
