import TetherCore

/// One lock per (portal, target): what one attach or detach decides about a session (log in,
/// scan, log out when no LUN is left) is not interleaved with another's on the same session.
/// Different sessions run in parallel; there is no host-wide lock.
actor PortalTargetLocks {
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    private var held: Set<String> = []

    static func key(_ portal: Portal, _ target: String) -> String {
        "\(KernelISCSISession.normalized(portal.host)):\(portal.port) \(target)"
    }

    func withLock<Value: Sendable>(_ portal: Portal, _ target: String, _ body: @Sendable () async throws -> Value) async throws -> Value {
        let key = Self.key(portal, target)
        await acquire(key)
        do {
            let value = try await body()
            release(key)
            return value
        } catch {
            release(key)
            throw error
        }
    }

    private func acquire(_ key: String) async {
        if held.insert(key).inserted { return }
        await withCheckedContinuation { continuation in
            waiters[key, default: []].append(continuation)
        }
    }

    private func release(_ key: String) {
        if var queue = waiters[key], !queue.isEmpty {
            // Hand the lock straight to the next waiter: it stays held.
            let next = queue.removeFirst()
            waiters[key] = queue.isEmpty ? nil : queue
            next.resume()
        } else {
            held.remove(key)
        }
    }
}
