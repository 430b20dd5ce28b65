import Logging
import TetherAPI
@testable import TetherAgent
import TetherCore
import TetherFakes
import Testing

@Suite struct ExportServiceTests {
    let journal: Journal
    let exporter = RecordingExporter()
    let host = FakeHost()
    let service: ExportService

    init() throws {
        journal = try Journal()
        host.makeDirectory("/v")
        service = ExportService(
            journal: journal, locks: VolumeLocks(), exporter: exporter, host: host, iqnPrefix: "iqn.2026-11.io.tether",
            backingDirectories: ["/v"], stats: OperationStats(), logger: Logger(label: "test"))
    }

    static func request(_ volume: String = "vol-1", initiator: String = "iqn.2026-11.io.tether.test:a", path: String = "/v/vol-1.img") -> CreateExportRequest {
        CreateExportRequest(volume: .init(id: volume, path: path, sizeBytes: 1 << 20), connector: ConnectorProperties(initiator: initiator))
    }

    @Test func exportCreatesBackingAndAnswersWithEveryPortal() async throws {
        let (response, created) = try await service.create(Self.request())
        #expect(created)
        #expect(host.file("/v/vol-1.img")?.mode == 0o600)
        let data = try ISCSIConnectionData(response.connectionInfo)
        #expect(data.paths.map(\.portal.description) == ["192.0.2.10:3260", "198.51.100.10:3260"])
        #expect(data.paths.allSatisfy { $0.iqn == "iqn.2026-11.io.tether:vol-1" && $0.lun == 1 })
        #expect(data.chap != nil)
        #expect(exporter.specs[1]?.grants.map(\.initiator) == ["iqn.2026-11.io.tether.test:a"])
    }

    @Test func repeatedExportReturnsTheSameCredentials() async throws {
        let (first, _) = try await service.create(Self.request())
        let (second, created) = try await service.create(Self.request())
        #expect(!created)
        #expect(first.connectionInfo == second.connectionInfo)
    }

    @Test func eachInitiatorGetsItsOwnAccountAndTheLastTakesTheTarget() async throws {
        let (a, _) = try await service.create(Self.request(initiator: "iqn.2026-11.io.tether.test:a"))
        let (b, _) = try await service.create(Self.request(initiator: "iqn.2026-11.io.tether.test:b"))
        #expect(a.connectionInfo.data["auth_username"] != b.connectionInfo.data["auth_username"])
        #expect(exporter.specs[1]?.grants.count == 2)

        let first = try await service.delete(volumeID: "vol-1", initiator: "iqn.2026-11.io.tether.test:a")
        #expect(first.initiatorsRemoved == ["iqn.2026-11.io.tether.test:a"] && !first.targetRemoved)
        #expect(exporter.specs[1]?.grants.map(\.initiator) == ["iqn.2026-11.io.tether.test:b"])
        let last = try await service.delete(volumeID: "vol-1", initiator: "iqn.2026-11.io.tether.test:b")
        #expect(last.targetRemoved)
        #expect(exporter.specs.isEmpty)
        #expect(try await journal.counts() == (0, 0, 0))
        let again = try await service.delete(volumeID: "vol-1", initiator: nil)
        #expect(again.initiatorsRemoved.isEmpty && !again.targetRemoved)
    }

    @Test func targetFailureLeavesNothingBehind() async throws {
        exporter.fail(with: TetherError(.targetFailed, "tgtd down"))
        let error = await #expect(throws: TetherError.self) { try await service.create(Self.request()) }
        #expect(error?.code == .targetFailed)
        #expect(try await journal.counts() == (0, 0, 0))
    }

    @Test(arguments: [
        CreateExportRequest(volume: .init(id: "bad id", path: "/v/x", sizeBytes: 512), connector: ConnectorProperties(initiator: "iqn.2026-11.io.tether.test:c")),
        CreateExportRequest(volume: .init(id: "v", path: "relative/x", sizeBytes: 512), connector: ConnectorProperties(initiator: "iqn.2026-11.io.tether.test:c")),
        CreateExportRequest(volume: .init(id: "v", path: "/v/x", sizeBytes: 100), connector: ConnectorProperties(initiator: "iqn.2026-11.io.tether.test:c")),
        CreateExportRequest(volume: .init(id: "v", path: "/v/x", sizeBytes: 512), connector: ConnectorProperties()),
    ])
    func badExportRequestsChangeNothing(request: CreateExportRequest) async throws {
        let error = await #expect(throws: TetherError.self) { try await service.create(request) }
        #expect(error?.code == .invalidInput)
        #expect(try await journal.counts() == (0, 0, 0))
        #expect(host.filePaths.isEmpty)
    }

    @Test func missingBackingWithoutSizeIsNotFound() async throws {
        let request = CreateExportRequest(volume: .init(id: "v", path: "/v/missing"), connector: ConnectorProperties(initiator: "iqn.2026-11.io.tether.test:c"))
        let error = await #expect(throws: TetherError.self) { try await service.create(request) }
        #expect(error?.code == .notFound)
    }

    /// Backing paths outside [target] backing_dirs, links leading out of it, and directories are
    /// refused before anything is journaled or created; no backing_dirs refuses file exports.
    @Test func backingPathsStayInsideTheAllowList() async throws {
        host.makeDirectory("/etc")
        host.setFile("/etc/shadow", "root:x")
        host.link("/v/escape", to: "/etc")
        host.makeDirectory("/v/sub")
        for (path, size) in [("/etc/shadow", nil), ("/etc/new.img", 512), ("/v/escape/shadow", nil), ("/v/escape/new.img", 512), ("/v/sub", nil), ("/nowhere/x", 512)] as [(String, UInt64?)] {
            let request = CreateExportRequest(volume: .init(id: "v", path: path, sizeBytes: size), connector: ConnectorProperties(initiator: "iqn.2026-11.io.tether.test:c"))
            let error = await #expect(throws: TetherError.self) { try await service.create(request) }
            #expect(error?.code == .invalidInput, "\(path)")
            #expect(error?.message.hasPrefix("volume.path:") == true, "\(path)")
        }
        #expect(try await journal.counts() == (0, 0, 0))
        #expect(host.file("/etc/new.img") == nil)
        #expect(exporter.specs.isEmpty)

        let closed = ExportService(
            journal: journal, locks: VolumeLocks(), exporter: exporter, host: host, iqnPrefix: "iqn.2026-11.io.tether", stats: OperationStats(),
            logger: Logger(label: "test"))
        let error = await #expect(throws: TetherError.self) { try await closed.create(Self.request()) }
        #expect(error?.code == .unsupported)
        #expect(host.file("/v/vol-1.img") == nil)
    }

    @Test func restoreReappliesJournaledExports() async throws {
        _ = try await service.create(Self.request())
        let before = exporter.specs
        try await exporter.remove(before[1]!)  // tgtd restarted and forgot everything
        await service.restore()
        #expect(exporter.specs == before)
    }

    /// A volume id already given out as an RBD image cannot become an iSCSI target too, and its
    /// delete forgets the RBD export (listed until then).
    @Test func aVolumeExportedAsRBDIsNotExportedOverISCSIAsWell() async throws {
        try await journal.saveRBDExport(RBDExportRecord(volumeID: "vol-1", cluster: "ceph-a", pool: "rbd", image: "img", user: "cinder", createdAt: Journal.now()))
        #expect(try await service.list().map(\.protocolName) == ["rbd"])
        let error = await #expect(throws: TetherError.self) { try await service.create(Self.request()) }
        #expect(error?.code == .conflict)
        #expect(exporter.specs.isEmpty && host.file("/v/vol-1.img") == nil)
        let deletion = try await service.delete(volumeID: "vol-1", initiator: nil)
        #expect(deletion.targetRemoved)
        #expect(try await service.list().isEmpty)
        #expect(try await service.create(Self.request()).created)
    }
}
