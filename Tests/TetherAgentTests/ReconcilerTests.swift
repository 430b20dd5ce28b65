import Foundation
import Logging
import TetherAPI
@testable import TetherAgent
import TetherCore
import TetherFakes
import Testing

@Suite struct ReconcilerTests {
    let journal: Journal
    let connector = ScriptedConnector()
    let service: AttachmentService

    init() throws {
        journal = try Journal()
        service = AttachmentService(
            journal: journal, locks: VolumeLocks(), connectors: [connector], node: ConnectorProperties(initiator: "iqn.test:node"),
            stats: OperationStats(), logger: Logger(label: "test"))
    }

    func reconciler(heal: Bool = true) -> Reconciler {
        Reconciler(attachments: service, interval: nil, heal: heal, logger: Logger(label: "test"))
    }

    @Test func aFreshAttachmentIsHealthyAndStaysSo() async throws {
        let (record, _) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        #expect(try await journal.attachment(id: record.id)?.health == .healthy)
        let report = try await reconciler().reconcile(heal: true, clean: false)
        #expect(report.attachments.map(\.status) == [.healthy])
        #expect(report.isClean)
        #expect(try await journal.attachment(id: record.id)?.checkedAt != nil)
    }

    @Test func withoutHealALostPathIsOnlyReported() async throws {
        let (record, _) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        connector.setHealth(.degraded, of: record.id)
        let report = try await reconciler(heal: false).reconcile(heal: false, clean: false)
        #expect(report.attachments.first?.status == .degraded)
        #expect(report.attachments.first?.previous == .healthy)
        #expect(report.attachments.first?.repairs == [])
        let stored = try #require(try await journal.attachment(id: record.id))
        #expect(stored.health == .degraded)
        #expect(stored.problems == ["scripted: degraded"])
        #expect(try Routes.body(stored).status == .degraded)
    }

    @Test func listingLooksAtTheHostWithoutRepairing() async throws {
        let (record, _) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        connector.setHealth(.missing, of: record.id)
        let listed = try await service.listChecked()
        #expect(listed.map(\.health) == [.missing])
        #expect(listed.first?.problems == ["scripted: missing"])
        #expect(try await service.showChecked("v1").health == .missing)
        // Journaled for the metrics, and nothing was repaired: the next look still finds it.
        #expect(try await journal.attachment(id: record.id)?.health == .missing)
        #expect(try await service.listChecked().map(\.health) == [.missing])
    }

    @Test func healingRepairsAndRecordsTheChange() async throws {
        let (record, _) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        connector.setHealth(.missing, of: record.id)
        let report = try await reconciler().reconcile(heal: true, clean: false)
        #expect(report.attachments.first?.status == .healthy)
        #expect(report.attachments.first?.repairs == ["repaired the missing attachment"])
        #expect(try await journal.attachment(id: record.id)?.health == .healthy)
    }

    @Test func whatCannotBeHealedStaysMissing() async throws {
        let (record, _) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        connector.setHealth(.missing, of: record.id, healable: false)
        let report = try await reconciler().reconcile(heal: true, clean: false)
        #expect(report.attachments.first?.status == .missing)
        #expect(!report.isClean)
        #expect(try await journal.attachment(id: record.id)?.health == .missing)
    }

    @Test func aRepeatedAttachVerifiesFirstAndReattachesWhatIsGone() async throws {
        let (first, _) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        connector.setHealth(.degraded, of: first.id)
        // Degraded but healed: the same attachment answers, checked.
        let (again, created) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        #expect(!created && again.id == first.id && again.health == .healthy)

        connector.setHealth(.missing, of: first.id, healable: false)
        let (replaced, createdNew) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        #expect(createdNew)
        #expect(replaced.id != first.id)
        #expect(connector.detachedIDs == [first.id])
        #expect(try await journal.attachments().map(\.id) == [replaced.id])
    }

    @Test func aMissingVolumeStillInUseIsNotPulledByARepeatedAttach() async throws {
        let (first, _) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        connector.setHealth(.missing, of: first.id, healable: false)
        // The map is open (QEMU) while its paths reconnect: a detach without force refuses.
        connector.failDetach(with: TetherError(.conflict, "map is in use"))
        let (answer, created) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        #expect(!created && answer.id == first.id && answer.health == .missing)
        #expect(connector.detachedIDs.isEmpty)
        #expect(connector.attachedIDs.count == 1)
    }

    @Test func withHealingOffNothingIsRepairedOrFinished() async throws {
        let reportOnly = AttachmentService(
            journal: journal, locks: VolumeLocks(), connectors: [connector], node: ConnectorProperties(initiator: "iqn.test:node"),
            stats: OperationStats(), logger: Logger(label: "test"), heal: false)
        let (record, _) = try await reportOnly.attach(AttachmentServiceTests.request(volume: "v1"))
        connector.setHealth(.missing, of: record.id)
        let (again, created) = try await reportOnly.attach(AttachmentServiceTests.request(volume: "v1"))
        #expect(!created && again.health == .missing)
        #expect(connector.detachedIDs.isEmpty && connector.attachedIDs.count == 1)

        connector.fail(with: TetherError(.iscsiLoginFailed, "login refused"))
        connector.failDetach(with: TetherError(.hostCommandFailed, "logout failed"))
        _ = await #expect(throws: TetherError.self) { try await reportOnly.attach(AttachmentServiceTests.request(volume: "v2")) }
        connector.failDetach(with: nil)
        let report = try await Reconciler(attachments: reportOnly, interval: nil, heal: false, logger: Logger(label: "test")).reconcile(heal: false, clean: false)
        #expect(report.unfinished.map(\.finished) == [false])
        #expect(report.attachments.map(\.status) == [.missing])
        #expect(try await journal.attachments().count == 2)
    }

    @Test func anOrphanWhoseVolumeIsAttachedAgainIsLeft() async throws {
        let orphan = Orphan(kind: .krbdMapping, name: "0:x", detail: "d", volumeID: "v1")
        connector.setOrphans([orphan])
        _ = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        let report = try await reconciler().reconcile(heal: true, clean: true)
        #expect(report.orphans.map(\.removed) == [false])
        #expect(report.orphans.first?.error?.contains("attached again") == true)
        #expect(connector.removedOrphans.isEmpty)
    }

    @Test func aLookDoesNotOverwriteANewerCheck() async throws {
        let (record, _) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        let stale = try #require(try await journal.attachment(id: record.id))
        // The reconciler checks (and journals) meanwhile; the look that read the row before writes nothing.
        try await Task.sleep(for: .milliseconds(5))
        try await journal.recordInspection(id: record.id, Inspection(health: .healthy, volume: try #require(stale.result)))
        try await journal.recordHealth(id: record.id, health: .missing, problems: ["old look"], ifCheckedAt: stale.checkedAt)
        #expect(try await journal.attachment(id: record.id)?.health == .healthy)
    }

    @Test func aFailedRollbackKeepsItsErrorAndTheReconcilerFinishesIt() async throws {
        connector.fail(with: TetherError(.iscsiLoginFailed, "login refused"))
        connector.failDetach(with: TetherError(.hostCommandFailed, "iscsiadm logout exited 8"))
        let error = await #expect(throws: TetherError.self) { try await service.attach(AttachmentServiceTests.request(volume: "v1")) }
        #expect(error?.message.contains("login refused") == true)
        #expect(error?.message.contains("iscsiadm logout exited 8") == true)
        let stuck = try #require(try await journal.attachments().first)
        #expect(stuck.state == .attaching)
        #expect(stuck.lastError?.contains("iscsiadm logout exited 8") == true)
        // Not attachable again until the rollback is done.
        connector.fail(with: nil)
        await #expect(throws: TetherError.self) { try await service.attach(AttachmentServiceTests.request(volume: "v1")) }

        let stillFailing = try await reconciler().reconcile(heal: true, clean: false)
        #expect(stillFailing.unfinished.map(\.finished) == [false])
        #expect(stillFailing.unfinished.first?.error?.contains("exited 8") == true)

        connector.failDetach(with: nil)
        let done = try await reconciler().reconcile(heal: true, clean: false)
        #expect(done.unfinished.map(\.finished) == [true])
        #expect(try await journal.counts() == (0, 0, 0))
        _ = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
    }

    @Test func aFailedDetachKeepsTheAttachmentWithItsError() async throws {
        let (record, _) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        connector.failDetach(with: TetherError(.hostCommandFailed, "umount: target is busy"))
        await #expect(throws: TetherError.self) { try await service.detach("v1", force: false) }
        let kept = try #require(try await journal.attachment(id: record.id))
        #expect(kept.state == .attached)
        #expect(kept.lastError?.contains("target is busy") == true)
    }

    @Test func orphansAreReportedAndRemovedOnlyWhenAsked() async throws {
        let orphan = Orphan(kind: .iscsiSession, name: "7", detail: "iqn.x:gone 192.0.2.9:3260")
        connector.setOrphans([orphan])
        let reported = try await reconciler().reconcile(heal: true, clean: false)
        #expect(reported.orphans == [.init(orphan: orphan, removed: false)])
        #expect(connector.removedOrphans.isEmpty)
        #expect(!reported.isClean)
        let cleaned = try await reconciler().reconcile(heal: true, clean: true)
        #expect(cleaned.orphans == [.init(orphan: orphan, removed: true)])
        #expect(connector.removedOrphans == [orphan])
        #expect(try await reconciler().reconcile(heal: true, clean: false).isClean)
    }

    @Test func aRowThatDoesNotReadBackIsReportedAndStopsNothingElse() async throws {
        let (good, _) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        let (bad, _) = try await service.attach(AttachmentServiceTests.request(volume: "v2"))
        try await journal.writer.write { try $0.execute(sql: "UPDATE attachment SET result = 'not json' WHERE id = ?", arguments: [bad.id]) }
        #expect(try await service.list().map(\.id) == [good.id])
        let report = try await reconciler().reconcile(heal: true, clean: false)
        #expect(report.attachments.map(\.id) == [good.id])
        #expect(report.errors.count == 1 && report.errors[0].contains(bad.id))
        // Its own volume's operations fail, rather than attach it a second time.
        await #expect(throws: (any Error).self) { try await service.attach(AttachmentServiceTests.request(volume: "v2")) }
        _ = try await service.detach("v1", force: false)
    }

    @Test func theReportIsTheWireShape() throws {
        let report = ReconcileReport(
            attachments: [.init(id: "a", volumeID: "v", status: .degraded, previous: .healthy, problems: ["p"], repairs: [])], unfinished: [],
            orphans: [.init(orphan: Orphan(kind: .krbdMapping, name: "3", detail: "d"), removed: false)], errors: [], healed: true,
            elapsedMilliseconds: 4)
        let json = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(report))
        #expect(json["attachments"]?.arrayValue?.first?["volume_id"] == "v")
        #expect(json["orphans"]?.arrayValue?.first?["kind"] == "krbd_mapping")
        #expect(json["orphans"]?.arrayValue?.first?["removed"] == false)
        #expect(json["elapsed_ms"] == 4)
        #expect(try JSONDecoder().decode(ReconcileReport.self, from: JSONEncoder().encode(report)) == report)
    }
}
