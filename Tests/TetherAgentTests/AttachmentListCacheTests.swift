import Foundation
import Logging
import NIOCore
import Synchronization
import TetherAPI
@testable import TetherAgent
import TetherCore
import TetherFakes
import Testing

/// The list's cache (GET /v1/attachments): rows read again only after the table changed, looks
/// reused while fresh, JSON equal to the plain encoding.
@Suite struct AttachmentListCacheTests {
    let journal: Journal
    let connector = ScriptedConnector()

    init() throws {
        journal = try Journal()
    }

    func service(freshness: Duration) -> AttachmentService {
        AttachmentService(
            journal: journal, locks: VolumeLocks(), connectors: [connector], node: ConnectorProperties(initiator: "iqn.test:node"),
            stats: OperationStats(), logger: Logger(label: "test"), listFreshness: freshness)
    }

    @Test func theGenerationGrowsWithEveryCommittedChangeOfTheTable() async throws {
        let service = service(freshness: .seconds(3600))
        let start = journal.attachmentGeneration
        let (record, _) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        let attached = journal.attachmentGeneration
        #expect(attached > start)
        _ = try await journal.attachments()
        _ = try await service.listChecked()
        #expect(journal.attachmentGeneration == attached, "reads and a look that found nothing new write nothing")
        _ = try await service.detach(record.id, force: false)
        #expect(journal.attachmentGeneration > attached)
    }

    @Test func rowsAreReadAgainOnlyForANewGenerationAndKeepTheirVersionWhileUnchanged() async throws {
        let cache = AttachmentListCache(freshness: .seconds(3600))
        let reads = Counter()
        let a = try Self.row("a")
        var b = try Self.row("b")
        var first = AttachmentListCache.Snapshot()
        for _ in 0..<3 {
            first = await cache.snapshot(generation: 1) { reads.add(); return [a, b] }
        }
        #expect(reads.value == 1)
        b.lastError = "changed"
        let second = await cache.snapshot(generation: 2) { reads.add(); return [a, b] }
        #expect(reads.value == 2)
        #expect(second.versions[0] == first.versions[0], "a's row did not change")
        #expect(second.versions[1] != first.versions[1])
        // An older generation asked for late answers the newer snapshot, unread.
        let late = await cache.snapshot(generation: 1) { reads.add(); return [] }
        #expect(reads.value == 2 && late.records.count == 2)
    }

    @Test func aFreshLookStandsForTheHostAndAStaleOneIsTakenAgain() async throws {
        let cached = service(freshness: .seconds(3600))
        let (record, _) = try await cached.attach(AttachmentServiceTests.request(volume: "v1"))
        #expect(try await cached.listChecked().map(\.health) == [.healthy])
        connector.setHealth(.missing, of: record.id)
        #expect(try await cached.listChecked().map(\.health) == [.healthy], "the look of an unchanged row is younger than the freshness")
        #expect(try await cached.showChecked(record.id).health == .missing, "show always looks")

        let uncached = service(freshness: .zero)
        #expect(try await uncached.listChecked().map(\.health) == [.missing])
    }

    @Test func aChangedRowIsLookedAtAgainWhateverTheFreshness() async throws {
        let service = service(freshness: .seconds(3600))
        let (record, _) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        #expect(try await service.listChecked().map(\.health) == [.healthy])
        connector.setHealth(.missing, of: record.id)
        try await journal.recordFailure(id: record.id, "a detach failed")
        #expect(try await service.listChecked().map(\.health) == [.missing])
        let (other, _) = try await service.attach(AttachmentServiceTests.request(volume: "v2"))
        connector.setHealth(.degraded, of: other.id)
        let listed = Dictionary(uniqueKeysWithValues: try await service.listChecked().map { ($0.volumeID, $0.health) })
        #expect(listed == ["v1": .missing, "v2": .degraded], "a row never looked at is looked at")
    }

    @Test func oneCallerRefreshesWhileOthersAnswerTheLastLook() async throws {
        let cache = AttachmentListCache(freshness: .seconds(10))
        let snapshot = try await cache.snapshot(generation: 1) { [try Self.row("old"), try Self.row("new")] }
        let start = ContinuousClock.now
        var looked = snapshot.records[0]
        looked.health = .degraded
        cache.store(looked, lookingAt: 0, of: snapshot, at: start)
        #expect(cache.due(snapshot, now: start) == ([1], []), "a row never looked at is due for anyone")
        #expect(cache.shown(snapshot).map(\.record.health) == [.degraded, .unknown])
        let first = cache.due(snapshot, now: start + .seconds(11))
        #expect(first == ([1], [0]), "the first caller to find the stale row takes it")
        let second = cache.due(snapshot, now: start + .seconds(11))
        #expect(second == ([1], []), "the stale row is being looked at already")
        cache.finishRefresh()
        #expect(cache.due(snapshot, now: start + .seconds(11)).stale == [0])
    }

    // Without the hand-over a caller would wait for the held look: the time limit fails it then.
    @Test(.timeLimit(.minutes(1))) func withARefresherRunningStaleRowsAreHandedOverAndNobodyWaitsForThem() async throws {
        let service = service(freshness: .zero)
        let refresher = service.startRefreshingLooks()
        defer { refresher.cancel() }
        let (record, _) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        #expect(try await service.listChecked().map(\.health) == [.healthy], "a row never looked at is looked at by the caller")
        // From now on every look of the row is stale at once; the next look the refresher takes
        // hangs until released, and callers meanwhile answer the last look.
        connector.setHealth(.missing, of: record.id)
        connector.holdInspections()
        for _ in 0..<3 {
            #expect(try await service.listChecked().map(\.health) == [.healthy], "the caller answered the last look, not waiting")
        }
        try await connector.waitForHeldInspections(1)
        #expect(connector.heldInspections == 1, "one refresh at a time")
        connector.releaseInspections()
        // A bounded wait, not a timing: the refresher runs when the machine lets it.
        var listed: [AttachmentHealth] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            listed = try await service.listChecked().map(\.health)
            if listed == [.missing] { break }
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(listed == [.missing], "the refresher's look is what callers answer next")
    }

    @Test func theWholeAnswerIsBuiltAgainOnlyAfterARowOrALookChanged() async throws {
        let service = service(freshness: .seconds(3600))
        let builds = Counter()
        let build: ([AttachmentListCache.Shown]) throws -> ByteBuffer = { builds.add(); return try Routes.listBody($0, cache: service.listCache) }
        let (record, _) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        let first = try await service.listBody(build: build)
        let again = try await service.listBody(build: build)
        #expect(builds.value == 1 && first == again)
        _ = try await service.detach(record.id, force: false)
        let afterDetach = try await service.listBody(build: build)
        #expect(builds.value == 2)
        #expect(Data(afterDetach.readableBytesView) == (try JSONBody.encode(AttachmentList(attachments: []))), "a detached row is gone from the next answer")
    }

    @Test func theAssembledListIsTheEncodedListByteForByte() async throws {
        let service = service(freshness: .seconds(3600))
        for volume in ["v1", "v2", "v3"] { _ = try await service.attach(AttachmentServiceTests.request(volume: volume)) }
        let shown = try await service.listShown()
        let expected = try JSONBody.encode(AttachmentList(attachments: shown.map { try Routes.body($0.record) }))
        for _ in 0..<2 {
            let body = try Routes.listBody(shown, cache: service.listCache)
            #expect(Data(body.readableBytesView) == expected)
        }
        let empty = try Routes.listBody([], cache: service.listCache)
        #expect(Data(empty.readableBytesView) == (try JSONBody.encode(AttachmentList(attachments: []))))
    }

    @Test func aRowIsEncodedAgainOnlyWhenWhatItShowsChanged() throws {
        let cache = AttachmentListCache(freshness: .seconds(3600))
        let record = try Self.row("a")
        let encodings = Counter()
        let encode: (AttachmentRecord) throws -> Data = { encodings.add(); return try JSONBody.encode(Routes.body($0)) }
        let shown = AttachmentListCache.Shown(record: record, key: .init(row: 1, look: 0))
        _ = try cache.json([shown], encode: encode)
        _ = try cache.json([shown, shown], encode: encode)
        #expect(encodings.value == 1)
        _ = try cache.json([AttachmentListCache.Shown(record: record, key: .init(row: 1, look: 2))], encode: encode)
        #expect(encodings.value == 2)
    }

    static func row(_ id: String) throws -> AttachmentRecord {
        AttachmentRecord(
            id: id, volumeID: "vol-\(id)", targetKey: "iscsi:iqn.x:1", protocolName: "iscsi", mode: .network, state: .attached,
            connectionInfo: AttachmentServiceTests.request(volume: "vol-\(id)").connectionInfo.redacted(),
            result: AttachedVolume(
                protocolName: "iscsi", mode: .network, paths: [], wwid: "naa.1", sizeBytes: 1, blockSize: 512, devicePath: nil,
                diskXML: "<disk/>", qemuBlockdev: .object([:]), qemuObjects: [], secretFiles: []),
            createdAt: "2026-12-07T00:00:00Z", updatedAt: "2026-12-07T00:00:00Z")
    }
}

/// A count that closures of any isolation can add to.
final class Counter: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
