import TetherCore
import TetherISCSI
import TetherFakes
import Testing

@Suite struct NetworkISCSIReconcileTests {
    static let secrets = "/var/lib/tether/secrets"
    static let chapFile = "\(secrets)/att-1.chap"

    static let volume = AttachedVolume(
        protocolName: "iscsi", mode: .network, paths: [], wwid: "naa.6001405f2a1b3c4d5e6f708192a3b4c5", sizeBytes: 1 << 30, blockSize: 512,
        devicePath: nil, diskXML: "<disk/>", qemuBlockdev: .null, qemuObjects: [], secretFiles: [chapFile])

    @Test func aPresentSecretFileIsHealthy() async throws {
        let host = FakeHost()
        host.setFile(Self.chapFile, "s3cret", mode: 0o600)
        let inspection = await NetworkISCSIConnector(host: host, secretDirectory: Self.secrets).inspect(Self.volume, attachmentID: "att-1", heal: false)
        #expect(inspection.health == .healthy)
        #expect(inspection.problems.isEmpty)
    }

    @Test func aLostCHAPSecretIsReportedNotMadeUp() async throws {
        let host = FakeHost()
        let inspection = await NetworkISCSIConnector(host: host, secretDirectory: Self.secrets).inspect(Self.volume, attachmentID: "att-1", heal: true)
        #expect(inspection.health == .missing)
        #expect(inspection.repairs.isEmpty)
        #expect(inspection.problems.first?.contains("attach the volume again") == true)
        #expect(host.file(Self.chapFile) == nil)
    }

    @Test func aSecretFileOthersMayReadIsRewritten0600() async throws {
        let host = FakeHost()
        host.setFile(Self.chapFile, "s3cret", mode: 0o640)
        let connector = NetworkISCSIConnector(host: host, secretDirectory: Self.secrets)
        #expect(await connector.inspect(Self.volume, attachmentID: "att-1", heal: false).health == .degraded)
        let healed = await connector.inspect(Self.volume, attachmentID: "att-1", heal: true)
        #expect(healed.health == .healthy)
        #expect(healed.repairs.count == 1)
        #expect(host.file(Self.chapFile)?.mode == 0o600)
        #expect(host.file(Self.chapFile).map { String(decoding: $0.contents, as: UTF8.self) } == "s3cret")
    }

    @Test func noCHAPNoFilesNothingToCheck() async throws {
        var volume = Self.volume
        volume.secretFiles = []
        #expect(await NetworkISCSIConnector(host: FakeHost(), secretDirectory: Self.secrets).inspect(volume, attachmentID: "att-1", heal: false).health == .healthy)
    }

    @Test func chapFilesNoAttachmentNamesAreOrphans() async throws {
        let host = FakeHost()
        for name in ["att-1.chap", "att-2.chap", "att-3.cephx", "att-4.chap"] {
            host.setFile("\(Self.secrets)/\(name)", "x", mode: 0o600)
        }
        let connector = NetworkISCSIConnector(host: host, secretDirectory: Self.secrets)
        let inFlight = connector.interruptedAttach(
            AttachRequest(
                attachmentID: "att-4", volumeID: "vol-4", connectionInfo: ConnectionInfo(driverVolumeType: "iscsi", data: [:]), mode: .network,
                accessMode: .readWrite, connector: ConnectorProperties()))
        let orphans = try await connector.orphans(known: [Self.volume, inFlight])
        #expect(orphans.map(\.name) == ["\(Self.secrets)/att-2.chap"])
        try await connector.remove(orphans[0])
        #expect(host.file("\(Self.secrets)/att-2.chap") == nil)
        #expect(host.file("\(Self.secrets)/att-3.cephx") != nil)
        let error = await #expect(throws: TetherError.self) {
            try await connector.remove(Orphan(kind: .secretFile, name: "\(Self.secrets)/att-3.cephx", detail: ""))
        }
        #expect(error?.code == .invalidInput)
    }
}
