import Logging
import TetherAPI
@testable import TetherAgent
import TetherCore
import TetherTesting
import Testing

@Suite struct ExportServiceTests {
    let journal: Journal
    let exporter = RecordingExporter()
    let host = FakeHost()
    let service: ExportService

    init() throws {
        journal = try Journal()
        service = ExportService(
            journal: journal, locks: VolumeLocks(), exporter: exporter, host: host, iqnPrefix: "iqn.2026-11.io.tether",
            stats: OperationStats(), logger: Logger(label: "test"))
    }

    static func request(_ volume: String = "vol-1", initiator: String = "iqn.test:a", path: String = "/v/vol-1.img") -> CreateExportRequest {
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
        #expect(exporter.specs[1]?.grants.map(\.initiator) == ["iqn.test:a"])
    }

    @Test func repeatedExportReturnsTheSameCredentials() async throws {
        let (first, _) = try await service.create(Self.request())
        let (second, created) = try await service.create(Self.request())
        #expect(!created)
        #expect(first.connectionInfo == second.connectionInfo)
    }

    @Test func eachInitiatorGetsItsOwnAccountAndTheLastTakesTheTarget() async throws {
        let (a, _) = try await service.create(Self.request(initiator: "iqn.test:a"))
        let (b, _) = try await service.create(Self.request(initiator: "iqn.test:b"))
        #expect(a.connectionInfo.data["auth_username"] != b.connectionInfo.data["auth_username"])
        #expect(exporter.specs[1]?.grants.count == 2)

        let first = try await service.delete(volumeID: "vol-1", initiator: "iqn.test:a")
        #expect(first.initiatorsRemoved == ["iqn.test:a"] && !first.targetRemoved)
        #expect(exporter.specs[1]?.grants.map(\.initiator) == ["iqn.test:b"])
        let last = try await service.delete(volumeID: "vol-1", initiator: "iqn.test:b")
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
        CreateExportRequest(volume: .init(id: "bad id", path: "/v/x", sizeBytes: 512), connector: ConnectorProperties(initiator: "iqn.a:b")),
        CreateExportRequest(volume: .init(id: "v", path: "relative/x", sizeBytes: 512), connector: ConnectorProperties(initiator: "iqn.a:b")),
        CreateExportRequest(volume: .init(id: "v", path: "/v/x", sizeBytes: 100), connector: ConnectorProperties(initiator: "iqn.a:b")),
        CreateExportRequest(volume: .init(id: "v", path: "/v/x", sizeBytes: 512), connector: ConnectorProperties()),
    ])
    func badExportRequestsChangeNothing(request: CreateExportRequest) async throws {
        let error = await #expect(throws: TetherError.self) { try await service.create(request) }
        #expect(error?.code == .invalidInput)
        #expect(try await journal.counts() == (0, 0, 0))
        #expect(host.filePaths.isEmpty)
    }

    @Test func missingBackingWithoutSizeIsNotFound() async throws {
        let request = CreateExportRequest(volume: .init(id: "v", path: "/v/missing"), connector: ConnectorProperties(initiator: "iqn.a:b"))
        let error = await #expect(throws: TetherError.self) { try await service.create(request) }
        #expect(error?.code == .notFound)
    }

    @Test func restoreReappliesJournaledExports() async throws {
        _ = try await service.create(Self.request())
        let before = exporter.specs
        try await exporter.remove(before[1]!)  // tgtd restarted and forgot everything
        await service.restore()
        #expect(exporter.specs == before)
    }
}
