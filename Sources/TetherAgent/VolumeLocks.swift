import Synchronization

/// Per-volume locks: requests for one volume queue in arrival order; different volumes run in
/// parallel. There is no host-wide lock.
///
/// A mutex around the table, not an actor: taking a free lock and handing one over are a few
/// set operations, and a request should not hop to an actor's executor and back twice for them.
/// Continuations are resumed outside the mutex.
public final class VolumeLocks: Sendable {
    private struct State {
        var held: Set<String> = []
        var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func withLock<Value: Sendable>(_ volume: String, _ body: @Sendable () async throws -> Value) async throws -> Value {
        await acquire(volume)
        do {
            let value = try await body()
            release(volume)
            return value
        } catch {
            release(volume)
            throw error
        }
    }

    private func acquire(_ volume: String) async {
        if state.withLock({ $0.held.insert(volume).inserted }) { return }
        await withCheckedContinuation { continuation in
            // Released since the first try: take it now, or queue.
            let taken = state.withLock { state in
                if state.held.insert(volume).inserted { return true }
                state.waiters[volume, default: []].append(continuation)
                return false
            }
            if taken { continuation.resume() }
        }
    }

    private func release(_ volume: String) {
        // Hand the lock straight to the next waiter: it stays held.
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard var queue = state.waiters[volume], !queue.isEmpty else {
                state.held.remove(volume)
                return nil
            }
            let next = queue.removeFirst()
            state.waiters[volume] = queue.isEmpty ? nil : queue
            return next
        }
        next?.resume()
    }
}
