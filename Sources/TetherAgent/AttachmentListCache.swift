import Foundation
import NIOCore
import Synchronization

/// What `tether list` (GET /v1/attachments) answers from, so that a node with a thousand
/// attachments and several clients polling answers in milliseconds, not in a thousand looks:
/// - the journal's rows, read and decoded again only after the attachment table changed
///   (`Journal.attachmentGeneration`); each row gets a version, kept while the row is unchanged,
///   so that nothing after compares whole records;
/// - each attached row's look at the host, reused while the row keeps its version and the look
///   is younger than `freshness`; one caller at a time looks again at what went stale, and
///   callers meanwhile answer the last look (a row never looked at, or changed, anyone looks at);
///   with a refresher running (`AttachmentService.startRefreshingLooks`, by the agent) nobody
///   waits for stale rows: the caller that finds them answers the last looks and hands them over;
/// - the JSON of what each row shows, encoded again only when that changed, and the whole
///   answer, assembled again only after a row or a look changed.
/// A mutex, not an actor: every step is dictionary work, never an await.
final class AttachmentListCache: Sendable {
    /// How long a look at an unchanged row stands in for the host.
    let freshness: Duration

    /// The journal's rows as of one generation, each with its version.
    struct Snapshot: Sendable {
        var records: [AttachmentRecord] = []
        var versions: [Int] = []
    }

    /// One row as the list shows it, and what identifies that (for its cached JSON).
    struct Shown: Sendable {
        var record: AttachmentRecord
        var key: Key
    }

    /// A row's version, and the look whose status it shows (0: none, the journal's).
    struct Key: Hashable, Sendable {
        var row: Int
        var look: Int
    }

    private struct Look {
        var row: Int
        var serial: Int
        var shown: AttachmentRecord
        var at: ContinuousClock.Instant
    }

    /// Stale rows of a snapshot, for the refresher to look at.
    struct Refresh: Sendable {
        var snapshot: Snapshot
        var indices: [Int]
    }

    private struct State {
        var generation = -1
        /// Grows with every new snapshot and every stored look: what `body` is keyed by.
        var content = 0
        var body: (content: Int, buffer: ByteBuffer)?
        /// Whether a refresher takes stale rows (else the caller that finds them looks).
        var refresherRunning = false
        var snapshot = Snapshot()
        var serial = 0
        var looks: [String: Look] = [:]
        var encoded: [String: (key: Key, json: Data)] = [:]
        /// A caller is looking again at stale rows.
        var refreshing = false

        mutating func next() -> Int {
            serial += 1
            return serial
        }
    }

    private let state = Mutex(State())
    /// Stale rows handed to the refresher; at most one hand-over waits (`refreshing` is set
    /// from the hand-over until the refresher finishes it).
    let refreshes: AsyncStream<Refresh>
    private let refreshContinuation: AsyncStream<Refresh>.Continuation

    init(freshness: Duration) {
        self.freshness = freshness
        (refreshes, refreshContinuation) = AsyncStream.makeStream(of: Refresh.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Marks whether a refresher takes stale rows from `refreshes`.
    func setRefresher(running: Bool) {
        state.withLock { state in
            state.refresherRunning = running
            // A hand-over the refresher did not take (it stopped) must not block callers' refreshes.
            if !running { state.refreshing = false }
        }
    }

    /// The journal's readable attachments as of `generation` or newer; `read` runs only when the
    /// cache holds an older generation.
    func snapshot(generation: Int, read: () async throws -> [AttachmentRecord]) async rethrows -> Snapshot {
        if let cached = state.withLock({ $0.generation >= generation ? $0.snapshot : nil }) { return cached }
        let records = try await read()
        return state.withLock { state in
            guard generation > state.generation else { return state.snapshot }
            var previous: [String: (record: AttachmentRecord, version: Int)] = [:]
            for (record, version) in zip(state.snapshot.records, state.snapshot.versions) { previous[record.id] = (record, version) }
            var versions: [Int] = []
            for record in records {
                if let old = previous[record.id], old.record == record {
                    versions.append(old.version)
                } else {
                    versions.append(state.next())
                }
            }
            state.generation = generation
            state.content += 1
            state.snapshot = Snapshot(records: records, versions: versions)
            let ids = Set(records.map(\.id))
            state.looks = state.looks.filter { ids.contains($0.key) }
            state.encoded = state.encoded.filter { ids.contains($0.key) }
            return state.snapshot
        }
    }

    /// Which attached rows of `snapshot` to look at: `now`, those never looked at or changed
    /// since (the caller looks at them before answering); `stale`, those whose look is older than
    /// `freshness`, for the one caller that took the refresh (it must call `finishRefresh` when
    /// done, however it ends). With a refresher running, the stale rows went to it instead and
    /// `stale` is empty.
    func due(_ snapshot: Snapshot, now: ContinuousClock.Instant = .now) -> (now: [Int], stale: [Int]) {
        let (unknown, stale, handOver) = state.withLock { state -> ([Int], [Int], Bool) in
            var unknown: [Int] = []
            var stale: [Int] = []
            for (index, record) in snapshot.records.enumerated() where record.state == .attached && record.result != nil {
                guard let look = state.looks[record.id], look.row == snapshot.versions[index] else {
                    unknown.append(index)
                    continue
                }
                if now - look.at >= freshness { stale.append(index) }
            }
            if stale.isEmpty || state.refreshing { return (unknown, [], false) }
            state.refreshing = true
            return (unknown, stale, state.refresherRunning)
        }
        guard handOver else { return (unknown, stale) }
        refreshContinuation.yield(Refresh(snapshot: snapshot, indices: stale))
        return (unknown, [])
    }

    func finishRefresh() {
        state.withLock { $0.refreshing = false }
    }

    /// Keeps what a look at row `index` of `snapshot` found.
    func store(_ shown: AttachmentRecord, lookingAt index: Int, of snapshot: Snapshot, at: ContinuousClock.Instant = .now) {
        state.withLock { state in
            let serial = state.next()
            state.content += 1
            state.looks[shown.id] = Look(row: snapshot.versions[index], serial: serial, shown: shown, at: at)
        }
    }

    /// The rows of `snapshot` as the last looks show them: an attached row with the status its
    /// look found (while the row keeps the version looked at), any other as journaled.
    func shown(_ snapshot: Snapshot) -> [Shown] {
        state.withLock { state in
            zip(snapshot.records, snapshot.versions).map { record, version in
                guard let look = state.looks[record.id], look.row == version else {
                    return Shown(record: record, key: Key(row: version, look: 0))
                }
                return Shown(record: look.shown, key: Key(row: version, look: look.serial))
            }
        }
    }

    /// The whole answer for the newest snapshot's rows as the last looks show them, from `build`
    /// unless nothing changed since it was last built. The newest, not the caller's: a caller
    /// whose snapshot is older must not cache old rows under new content. A ByteBuffer shares its
    /// storage, so every caller answers the same bytes without a copy.
    func body(build: ([Shown]) throws -> ByteBuffer) rethrows -> ByteBuffer {
        let (cached, content, snapshot) = state.withLock { state -> (ByteBuffer?, Int, Snapshot) in
            if let body = state.body, body.content == state.content { return (body.buffer, state.content, state.snapshot) }
            return (nil, state.content, state.snapshot)
        }
        if let cached { return cached }
        let buffer = try build(shown(snapshot))
        state.withLock { state in
            // A look or snapshot stored meanwhile may or may not be in `buffer`: not cached then.
            if state.content == content { state.body = (content, buffer) }
        }
        return buffer
    }

    /// The JSON of each of `shown`, encoded by `encode` unless it was for the same key before.
    func json(_ shown: [Shown], encode: (AttachmentRecord) throws -> Data) rethrows -> [Data] {
        var parts: [Data?] = state.withLock { state in
            shown.map { item in state.encoded[item.record.id].flatMap { $0.key == item.key ? $0.json : nil } }
        }
        var fresh: [(id: String, key: Key, json: Data)] = []
        for (index, item) in shown.enumerated() where parts[index] == nil {
            let json = try encode(item.record)
            parts[index] = json
            fresh.append((item.record.id, item.key, json))
        }
        if !fresh.isEmpty {
            state.withLock { state in
                for part in fresh { state.encoded[part.id] = (part.key, part.json) }
            }
        }
        return parts.map { $0 ?? Data() }
    }
}
