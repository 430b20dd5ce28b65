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
