import Foundation
import Logging
import Synchronization
import TetherAPI
@testable import TetherAgent
import TetherCore
import TetherTesting
import Testing

@Suite struct FailpointsTests {
    // MARK: - Parsing

    @Test func unsetOrEmptyArmsNothing() throws {
        #expect(try Failpoints.parse(nil).isEmpty)
        #expect(try Failpoints.parse("").isEmpty)
        #expect(try Failpoints.parse(" , ").isEmpty)
    }

    @Test func namesAndActionsParse() throws {
        let armed = try Failpoints.parse("attach.journaled=crash, local-attach.connected=error,export.applied=crash")
        #expect(armed == [.attachJournaled: .crash, .localAttachConnected: .error, .exportApplied: .crash])
        #expect(Failpoints.describe(armed) == "attach.journaled=crash,export.applied=crash,local-attach.connected=error")
    }

    @Test(arguments: Failpoint.allCases) func everyNameParses(point: Failpoint) throws {
        #expect(try Failpoints.parse("\(point.rawValue)=crash") == [point: .crash])
    }

    @Test func namesAreUniqueAndDotted() {
        let names = Failpoint.allCases.map(\.rawValue)
        #expect(Set(names).count == names.count)
        #expect(names.allSatisfy { $0.split(separator: ".").count == 2 })
    }

    @Test(arguments: ["attach.journaled", "attach.journaled=", "nope=crash", "attach.journaled=explode", "attach.journaled=crash,attach.journaled=error"])
    func badTextIsRefusedNamingTheVariable(text: String) {
        let error = #expect(throws: TetherError.self) { try Failpoints.parse(text) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.hasPrefix("TETHER_FAILPOINTS: ") == true)
    }

    @Test func anUnknownNameListsTheKnownOnes() {
        let error = #expect(throws: TetherError.self) { try Failpoints.parse("attach.jounraled=crash") }
        #expect(error?.hint?.contains("attach.journaled") == true)
    }

    // MARK: - Hitting

    @Test func unarmedPointsPassAndNothingIsKilled() throws {
        let crashes = Crashes()
        let failpoints = Failpoints(armed: [.attachConnected: .crash], crash: crashes.record)
        try failpoints.hit(.attachJournaled)
        try Failpoints().hit(.attachJournaled)
        #expect(crashes.points.isEmpty)
    }

    @Test func crashCallsTheKillerAndRunsNothingAfter() {
        let crashes = Crashes()
        let failpoints = Failpoints(armed: [.attachConnected: .crash], crash: crashes.record)
        #expect(throws: Failpoints.Crashed(failpoint: .attachConnected)) { try failpoints.hit(.attachConnected) }
        #expect(crashes.points == [.attachConnected])
    }

    @Test func errorThrowsATetherErrorWithoutKilling() {
        let crashes = Crashes()
        let failpoints = Failpoints(armed: [.exportJournaled: .error], crash: crashes.record)
        let error = #expect(throws: TetherError.self) { try failpoints.hit(.exportJournaled) }
        #expect(error?.code == .internalError)
        #expect(error?.message.contains("export.journaled") == true)
        #expect(crashes.points.isEmpty)
    }

    // MARK: - In the services

    @Test(arguments: [Failpoint.attachJournaled, .attachConnected, .attachRecorded])
    func anAttachFailedAtAPointIsUndone(point: Failpoint) async throws {
        let journal = try Journal()
        let connector = ScriptedConnector()
        let service = AttachmentService(
            journal: journal, locks: VolumeLocks(), connectors: [connector], node: ConnectorProperties(initiator: "iqn.test:node"),
            stats: OperationStats(), logger: Logger(label: "test"), failpoints: Failpoints(armed: [point: .error]) { _ in })
        let error = await #expect(throws: TetherError.self) { try await service.attach(AttachmentServiceTests.request(volume: "v1")) }
        #expect(error?.message.contains(point.rawValue) == true)
        #expect(try await journal.counts() == (0, 0, 0))
        // The roll-back ran (it undoes whatever the connector may have done, called or not).
        #expect(connector.detachedIDs.count == 1)
    }

    @Test func aCrashAfterTheIntentStopsTheAttachThere() async throws {
        let journal = try Journal()
        let connector = ScriptedConnector()
        let crashes = Crashes()
        let service = AttachmentService(
            journal: journal, locks: VolumeLocks(), connectors: [connector], node: ConnectorProperties(initiator: "iqn.test:node"),
            stats: OperationStats(), logger: Logger(label: "test"), failpoints: Failpoints(armed: [.attachJournaled: .crash], crash: crashes.record))
        await #expect(throws: Failpoints.Crashed.self) { try await service.attach(AttachmentServiceTests.request(volume: "v1")) }
        #expect(crashes.points == [.attachJournaled])
        // The connector was never called: the crash came before it.
        #expect(connector.attachedIDs.isEmpty)
    }

    @Test func aDetachCutAfterTheConnectorIsFinishedByRecovery() async throws {
        let journal = try Journal()
        let connector = ScriptedConnector()
        let armed = AttachmentService(
            journal: journal, locks: VolumeLocks(), connectors: [connector], node: ConnectorProperties(initiator: "iqn.test:node"),
            stats: OperationStats(), logger: Logger(label: "test"), failpoints: Failpoints(armed: [.detachDisconnected: .error]) { _ in })
        let (record, _) = try await armed.attach(AttachmentServiceTests.request(volume: "v1"))
        await #expect(throws: TetherError.self) { try await armed.detach(record.id, force: false) }
        #expect(try await journal.attachment(id: record.id)?.state == AttachmentRecord.State.detaching)
        // The next start, unarmed, completes it.
        let restarted = AttachmentService(
            journal: journal, locks: VolumeLocks(), connectors: [connector], node: ConnectorProperties(initiator: "iqn.test:node"),
            stats: OperationStats(), logger: Logger(label: "test"))
        try await restarted.recover()
        #expect(try await journal.counts() == (0, 0, 0))
    }

    @Test(arguments: [Failpoint.exportJournaled, .exportApplied])
    func anExportFailedAtAPointIsUndone(point: Failpoint) async throws {
        let journal = try Journal()
        let exporter = RecordingExporter()
        let host = FakeHost()
        host.makeDirectory("/v")
        let service = ExportService(
            journal: journal, locks: VolumeLocks(), exporter: exporter, host: host, iqnPrefix: "iqn.2026-11.io.tether",
            backingDirectories: ["/v"], stats: OperationStats(), logger: Logger(label: "test"), failpoints: Failpoints(armed: [point: .error]) { _ in })
        await #expect(throws: TetherError.self) { try await service.create(ExportServiceTests.request()) }
        #expect(try await journal.counts() == (0, 0, 0))
        #expect(exporter.specs.isEmpty)
    }

    @Test func anUnexportCutAfterTheIntentIsFinishedAtRestore() async throws {
        let journal = try Journal()
        let exporter = RecordingExporter()
        let host = FakeHost()
        host.makeDirectory("/v")
        let service = ExportService(
            journal: journal, locks: VolumeLocks(), exporter: exporter, host: host, iqnPrefix: "iqn.2026-11.io.tether",
            backingDirectories: ["/v"], stats: OperationStats(), logger: Logger(label: "test"), failpoints: Failpoints(armed: [.unexportJournaled: .error]) { _ in })
        _ = try await service.create(ExportServiceTests.request())
        await #expect(throws: TetherError.self) { try await service.delete(volumeID: "vol-1", initiator: nil) }
        #expect(try await journal.counts() == (0, 1, 1))
        let restarted = ExportService(
            journal: journal, locks: VolumeLocks(), exporter: exporter, host: host, iqnPrefix: "iqn.2026-11.io.tether",
            backingDirectories: ["/v"], stats: OperationStats(), logger: Logger(label: "test"))
        await restarted.restore()
        #expect(try await journal.counts() == (0, 0, 0))
        #expect(exporter.specs.isEmpty)
    }
}

/// The crash closure of a test: records instead of killing.
final class Crashes: Sendable {
    private let state = Mutex<[Failpoint]>([])
    var points: [Failpoint] { state.withLock { $0 } }
    var record: @Sendable (Failpoint) -> Void { { point in self.state.withLock { $0.append(point) } } }
}

/// README's Failpoints paragraph names every failpoint and the variable.
@Suite struct ReadmeFailpointsTests {
    @Test func everyFailpointIsDocumented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "\n### Failpoints\n"))
        let end = readme[start.upperBound...].range(of: "\n#")?.lowerBound ?? readme.endIndex
        let section = readme[start.upperBound..<end]
        #expect(section.contains("`\(Failpoints.variable)`"))
        for point in Failpoint.allCases {
            #expect(section.contains("`\(point.rawValue)`"), "README does not name failpoint \(point.rawValue)")
        }
    }
}
