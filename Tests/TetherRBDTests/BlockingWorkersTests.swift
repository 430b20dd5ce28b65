import Foundation
@testable import TetherRBD
import Testing

/// The threads a RADOS connection's calls run on: calls overlap up to the limit, never beyond,
/// and idle threads end. Proved with barriers and counters, not with timing: a barrier that
/// needs N calls inside at once is reached only if N run at once (its deadline only keeps a
/// broken pool from hanging the test).
struct BlockingWorkersTests {
    @Test(arguments: [2, 4, 16])
    func callsOverlapUpToTheLimit(limit: Int) async throws {
        let workers = BlockingWorkers(name: "test", limit: limit)
        let barrier = TestBarrier(parties: limit)
        let reached = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<limit {
                group.addTask { try await workers.run { barrier.arriveAndWait() } }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(reached == Array(repeating: true, count: limit), "fewer than \(limit) calls ran at once")
        #expect(barrier.mostInside == limit)
    }

    @Test func neverMoreCallsAtOnceThanTheLimit() async throws {
        let workers = BlockingWorkers(name: "test", limit: 2)
        let gate = TestBarrier(parties: 0)
        let done = DispatchGroup()
        for _ in 0..<8 {
            done.enter()
            workers.submit {
                gate.enterAndWaitForOpen()
                done.leave()
            }
        }
        #expect(gate.waitUntilInside(2))
        // Both threads hold a call; the other six wait in the queue, none started beside them.
        #expect(workers.queuedCount == 6)
        #expect(workers.threadCount == 2)
        gate.open()
        await withCheckedContinuation { continuation in done.notify(queue: .global()) { continuation.resume() } }
        #expect(gate.mostInside == 2)
    }

    @Test func errorsReachTheCaller() async throws {
        struct Refused: Error {}
        let workers = BlockingWorkers(name: "test", limit: 1)
        await #expect(throws: Refused.self) { try await workers.run { throw Refused() } }
        #expect(try await workers.run { 42 } == 42)
    }

    @Test func idleThreadsEnd() async throws {
        let workers = BlockingWorkers(name: "test", limit: 4, idle: 0.01)
        _ = try await workers.run { 1 }
        #expect(await eventually { workers.threadCount == 0 }, "a thread without work stayed")
        // And a later call starts one again.
        #expect(try await workers.run { 2 } == 2)
    }

    /// A finished call lets go of what it captured (for a connection: its shutdown waits for
    /// the last holder), though its thread stays for the next call.
    @Test func aFinishedCallKeepsNothing() async throws {
        final class Held: Sendable {}
        let workers = BlockingWorkers(name: "test", limit: 2, idle: 600)
        weak var watched: Held?
        do {
            let held = Held()
            watched = held
            _ = try await workers.run { [held] in ObjectIdentifier(held) }
            _ = try await workers.run { 0 }
        }
        #expect(await eventually { watched == nil }, "a finished call still holds what it captured")
        #expect(workers.threadCount > 0)
    }

    /// Polls `condition` until it holds; false after a minute, a bound against hanging only.
    func eventually(_ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))  // Cancellation ends the poll; the caller's expectation then fails.
        }
        return condition()
    }
}

/// Counts threads inside; releases them when `parties` are inside at once, or when opened.
final class TestBarrier: @unchecked Sendable {
    // @unchecked: every var is used only with `condition` locked.
    private let condition = NSCondition()
    private let parties: Int
    private var inside = 0
    private var released = false
    private var most = 0

    /// The most threads that were inside at once.
    var mostInside: Int {
        condition.lock()
        defer { condition.unlock() }
        return most
    }

    init(parties: Int) {
        self.parties = parties
    }

    /// True when all parties were inside at once; false after a minute (a broken pool).
    func arriveAndWait() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        enter()
        if inside >= parties {
            released = true
            condition.broadcast()
        }
        let deadline = Date(timeIntervalSinceNow: 60)
        while !released, condition.wait(until: deadline) {}
        inside -= 1
        return released
    }

    func enterAndWaitForOpen() {
        condition.lock()
        defer { condition.unlock() }
        enter()
        while !released { condition.wait() }
        inside -= 1
    }

    func open() {
        condition.lock()
        released = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until `count` threads are inside; false after a minute.
    func waitUntilInside(_ count: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: 60)
        while inside < count, condition.wait(until: deadline) {}
        return inside >= count
    }

    private func enter() {
        inside += 1
        most = max(most, inside)
        condition.broadcast()
    }
}
