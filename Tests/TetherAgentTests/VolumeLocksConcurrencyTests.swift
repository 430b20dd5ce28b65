import Synchronization
@testable import TetherAgent
import Testing

@Suite struct VolumeLocksConcurrencyTests {
    /// Bodies of one volume never overlap, and every one runs.
    @Test func oneVolumeRunsOneBodyAtATime() async throws {
        let locks = VolumeLocks()
        let state = Tally()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    try await locks.withLock("v") {
                        state.enter()
                        await Task.yield()
                        state.leave()
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(state.counts.most == 1)
        #expect(state.counts.done == 64)
    }

    /// A body of another volume runs while one volume's lock is held: the held one waits for it.
    @Test(.timeLimit(.minutes(1))) func otherVolumesDoNotWait() async throws {
        let locks = VolumeLocks()
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await locks.withLock("a") {
                    for await _ in stream { return }
                }
            }
            group.addTask {
                try await locks.withLock("b") { _ = continuation.yield() }
            }
            try await group.waitForAll()
        }
    }

    /// A failing body releases the lock.
    @Test func aThrowingBodyReleases() async throws {
        struct Failure: Error {}
        let locks = VolumeLocks()
        await #expect(throws: Failure.self) { try await locks.withLock("v") { throw Failure() } }
        #expect(try await locks.withLock("v") { 1 } == 1)
    }
}

/// How many bodies are inside a lock now, the most at once, and how many finished.
private final class Tally: Sendable {
    private let state = Mutex((inside: 0, most: 0, done: 0))
    func enter() { state.withLock { $0.inside += 1; $0.most = max($0.most, $0.inside) } }
    func leave() { state.withLock { $0.inside -= 1; $0.done += 1 } }
    var counts: (most: Int, done: Int) { state.withLock { ($0.most, $0.done) } }
}
