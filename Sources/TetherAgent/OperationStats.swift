import Prometheus
import Synchronization
import TetherCore

/// What the agent exposes at /v1/metrics, through swift-prometheus: attachments and exports,
/// what runs now, the most that ever ran at once, how operations ended, and how long they took
/// per operation, protocol and mode.
public final class OperationStats: Sendable {
    /// Every operation the agent counts and times.
    enum Operation: String, Sendable, CaseIterable {
        case attach, detach, export, unexport
        case localAttach = "local_attach"
        case localDetach = "local_detach"
    }

    /// The storage protocol an operation used. Local attach and detach are timed as `cinder`:
    /// Cinder picks the volume's protocol, and the time is mostly Cinder's.
    enum StorageProtocol: String, Sendable, CaseIterable {
        case iscsi, rbd, cinder
        /// A journal record's protocol name; anything else is not a protocol the agent attaches.
        init(journaled name: String) { self = StorageProtocol(rawValue: name) ?? .cinder }
    }

    /// Attach and detach modes; exports are the target side.
    enum Mode: String, Sendable, CaseIterable {
        case kernel, network, target
        init(_ mode: AttachMode) { self = mode == .kernel ? .kernel : .network }
        /// A journal record's mode; the journal holds only `AttachMode` raw values.
        init(journaled mode: String) { self = AttachMode(rawValue: mode).map(Mode.init) ?? .network }
    }

    /// From a millisecond (a repeated idempotent call) to the minutes a multipath kernel attach
    /// or a Cinder round trip under load may take.
    static let buckets: [Duration] = [
        .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120), .seconds(300),
    ]

    private struct Peak {
        var inFlight = 0
        var peak = 0
    }

    private let registry = PrometheusCollectorRegistry()
    private let peak = Mutex(Peak())
    private let attachments: Gauge
    private let exports: Gauge
    private let inFlightGauge: Gauge
    private let peakGauge: Gauge

    public init() {
        attachments = registry.makeGauge(descriptor: Self.name("attachments", help: "Attachments on this node."))
        exports = registry.makeGauge(descriptor: Self.name("exports", help: "Volumes this node exports."))
        inFlightGauge = registry.makeGauge(descriptor: Self.name("operations_in_flight", help: "Operations running now."))
        peakGauge = registry.makeGauge(descriptor: Self.name("operations_peak_in_flight", help: "The most operations that ever ran at once."))
    }

    private static func name(_ metric: String, unit: String = "", help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "tether", metricName: metric, unitName: unit, helpText: help)
    }

    /// Runs `body` as one operation, counted while it runs, by how it ended, and timed.
    func track<Value>(
        _ operation: Operation, protocol storageProtocol: StorageProtocol, mode: Mode, _ body: () async throws -> Value
    ) async throws -> Value {
        // The gauges are set under the lock so that concurrent operations cannot publish
        // their counts out of order.
        peak.withLock {
            $0.inFlight += 1
            $0.peak = max($0.peak, $0.inFlight)
            inFlightGauge.set(Double($0.inFlight))
            peakGauge.set(Double($0.peak))
        }
        let started = ContinuousClock.now
        let result: Result<Value, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        let elapsed = ContinuousClock.now - started
        peak.withLock {
            $0.inFlight -= 1
            inFlightGauge.set(Double($0.inFlight))
        }
        let outcome: String
        if case .success = result { outcome = "ok" } else { outcome = "error" }
        registry.makeCounter(
            descriptor: Self.name("operations", unit: "total", help: "Operations by kind and how they ended."),
            labels: [("kind", operation.rawValue), ("result", outcome)]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: Self.name("operation_duration", unit: "seconds", help: "How long operations took, per operation, protocol and mode."),
            labels: [("operation", operation.rawValue), ("protocol", storageProtocol.rawValue), ("mode", mode.rawValue)],
            buckets: Self.buckets
        ).record(elapsed)
        return try result.get()
    }

    public var peakInFlight: Int { peak.withLock { $0.peak } }

    /// Prometheus text exposition (format 0.0.4).
    /// - Parameters:
    ///   - statuses: attached volumes per status the reconciler last found.
    ///   - orphans: what the last reconcile found and left; nil before the first.
    func prometheus(attachments: Int, exports: Int, statuses: [AttachmentHealth: Int] = [:], orphans: Int? = nil) -> String {
        self.attachments.set(Double(attachments))
        self.exports.set(Double(exports))
        for status in AttachmentHealth.allCases {
            registry.makeGauge(
                descriptor: Self.name("attachment_status", help: "Attached volumes by how they compared with the host at the last reconcile."),
                labels: [("status", status.rawValue)]
            ).set(Double(statuses[status] ?? 0))
        }
        if let orphans {
            registry.makeGauge(descriptor: Self.name("orphans", help: "Host state that looks like Tether's but is not journaled, at the last reconcile."))
                .set(Double(orphans))
        }
        return registry.emitToString()
    }
}
