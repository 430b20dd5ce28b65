import Synchronization

/// Counters the agent exposes at /v1/metrics: what runs now, the most that ever ran at once,
/// and how operations ended.
public final class OperationStats: Sendable {
    private struct Counts {
        var inFlight = 0
        var peakInFlight = 0
        var succeeded: [String: Int] = [:]
        var failed: [String: Int] = [:]
    }

    private let counts = Mutex(Counts())

    public init() {}

    /// Runs `body` as one operation of `kind`, counted while it runs and by how it ended.
    func track<Value>(_ kind: String, _ body: () async throws -> Value) async throws -> Value {
        counts.withLock {
            $0.inFlight += 1
            $0.peakInFlight = max($0.peakInFlight, $0.inFlight)
        }
        do {
            let value = try await body()
            counts.withLock {
                $0.inFlight -= 1
                $0.succeeded[kind, default: 0] += 1
            }
            return value
        } catch {
            counts.withLock {
                $0.inFlight -= 1
                $0.failed[kind, default: 0] += 1
            }
            throw error
        }
    }

    public var peakInFlight: Int { counts.withLock { $0.peakInFlight } }

    /// Prometheus text exposition of the counters.
    func prometheus(attachments: Int, exports: Int) -> String {
        counts.withLock { counts in
            var lines = [
                "# TYPE tether_attachments gauge", "tether_attachments \(attachments)",
                "# TYPE tether_exports gauge", "tether_exports \(exports)",
                "# TYPE tether_operations_in_flight gauge", "tether_operations_in_flight \(counts.inFlight)",
                "# TYPE tether_operations_peak_in_flight gauge", "tether_operations_peak_in_flight \(counts.peakInFlight)",
                "# TYPE tether_operations_total counter",
            ]
            for (kind, count) in counts.succeeded.sorted(by: { $0.key < $1.key }) {
                lines.append("tether_operations_total{kind=\"\(kind)\",result=\"ok\"} \(count)")
            }
            for (kind, count) in counts.failed.sorted(by: { $0.key < $1.key }) {
                lines.append("tether_operations_total{kind=\"\(kind)\",result=\"error\"} \(count)")
            }
            return lines.joined(separator: "\n") + "\n"
        }
    }
}
