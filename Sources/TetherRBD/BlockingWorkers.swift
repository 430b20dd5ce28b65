import Foundation

/// A few threads of its own for calls that block (librados and librbd wait on the network inside
/// every call), so they never run on the cooperative pool, and several run at once.
///
/// At most `limit` calls run at a time; more wait in order. A thread starts when a call finds
/// none idle and ends after `idle` without work, so an idle agent keeps no threads here.
/// One serial queue per cluster made 32 attaches to one cluster wait for each other; librados
/// and librbd are thread-safe, so a connection's calls may overlap.
final class BlockingWorkers: @unchecked Sendable {
    // @unchecked: every stored var is read and written only with `condition` locked.
    private let condition = NSCondition()
    /// Taken jobs are set to nil at once: a finished call must not keep what it captured (its
    /// connection: `rados_shutdown` waits for the last holder).
    private var pending: [(@Sendable () -> Void)?] = []
    private var pendingStart = 0
    private var threads = 0
    private var idleThreads = 0
    let limit: Int
    let idle: TimeInterval
    let name: String

    /// - Parameters:
    ///   - limit: calls in flight at most (threads at most).
    ///   - idle: how long a thread without work waits for more before it ends.
    init(name: String, limit: Int, idle: TimeInterval = 2) {
        precondition(limit > 0, "BlockingWorkers needs at least one thread")
        self.name = name
        self.limit = limit
        self.idle = idle
    }

    /// Runs `body` on one of the threads and answers what it returns or throws.
    func run<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            submit { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Queues `job`; starts a thread when none is idle and fewer than `limit` run.
    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        pending.append(job)
        let start = idleThreads < queued && threads < limit
        if start { threads += 1 }
        condition.signal()
        condition.unlock()
        if start {
            let thread = Thread { [self] in work() }
            thread.name = name
            thread.start()
        }
    }

    /// Threads running now (busy or idle), for tests.
    var threadCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return threads
    }

    /// Calls waiting for a thread, for tests.
    var queuedCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return queued
    }

    private var queued: Int { pending.count - pendingStart }

    private func work() {
        condition.lock()
        while true {
            if let job = takeJob() {
                condition.unlock()
                job()
                condition.lock()
                continue
            }
            idleThreads += 1
            let woken = condition.wait(until: Date(timeIntervalSinceNow: idle))
            idleThreads -= 1
            if !woken, queued == 0 { break }
        }
        threads -= 1
        condition.unlock()
    }

    /// The oldest queued job; `condition` is locked.
    private func takeJob() -> (@Sendable () -> Void)? {
        guard queued > 0 else { return nil }
        let job = pending[pendingStart]
        pending[pendingStart] = nil
        pendingStart += 1
        // Drop the taken prefix when the queue is empty, or now and then, rather than shifting
        // the array on every take.
        if pendingStart == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingStart = 0
        } else if pendingStart > 64, pendingStart * 2 > pending.count {
            pending.removeFirst(pendingStart)
            pendingStart = 0
        }
        return job
    }
}
