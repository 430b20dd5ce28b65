import Foundation

/// Adds up the time one operation spends waiting for a peer (Cinder), beside its total.
final class StopWatch: @unchecked Sendable {
    private let lock = NSLock()
    private var spent: Duration = .zero
    private let started = ContinuousClock.now

    func time<Value>(_ body: () async throws -> Value) async throws -> Value {
        let start = ContinuousClock.now
        defer {
            let elapsed = ContinuousClock.now - start
            lock.withLock { spent += elapsed }
        }
        return try await body()
    }

    var measured: Duration { lock.withLock { spent } }
    var total: Duration { ContinuousClock.now - started }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}
