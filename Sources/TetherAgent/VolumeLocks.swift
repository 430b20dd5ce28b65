/// Per-volume locks: requests for one volume queue in arrival order; different volumes run in
/// parallel. There is no host-wide lock.
public actor VolumeLocks {
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    private var held: Set<String> = []

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
        if held.insert(volume).inserted { return }
        await withCheckedContinuation { continuation in
            waiters[volume, default: []].append(continuation)
        }
    }

    private func release(_ volume: String) {
        if var queue = waiters[volume], !queue.isEmpty {
            // Hand the lock straight to the next waiter: it stays held.
            let next = queue.removeFirst()
            waiters[volume] = queue.isEmpty ? nil : queue
            next.resume()
        } else {
            held.remove(volume)
        }
    }
}
