@testable import TetherAgent
import TetherCore
import Testing

/// /v1/metrics through swift-prometheus: the counters the agent had, and latency histograms
/// per operation, protocol and mode.
@Suite struct OperationStatsTests {
    struct Failure: Error {}

    @Test func countsAndTimesEachOperationByProtocolAndMode() async throws {
        let stats = OperationStats()
        _ = try await stats.track(.attach, protocol: .iscsi, mode: .init(AttachMode.network)) { 1 }
        _ = try await stats.track(.attach, protocol: .rbd, mode: .init(AttachMode.kernel)) { 2 }
        await #expect(throws: Failure.self) {
            try await stats.track(.attach, protocol: .iscsi, mode: .network) { throw Failure() }
        }
        _ = try await stats.track(.export, protocol: .iscsi, mode: .target) { try await Task.sleep(for: .milliseconds(30)) }
        let text = stats.prometheus(attachments: 2, exports: 1)
        let lines = Set(text.split(separator: "\n").map(String.init))
        for expected in [
            // swift-prometheus writes every gauge as a Double.
            "tether_attachments 2.0", "tether_exports 1.0", "tether_operations_in_flight 0.0", "tether_operations_peak_in_flight 1.0",
            #"tether_operations_total{kind="attach",result="ok"} 2"#,
            #"tether_operations_total{kind="attach",result="error"} 1"#,
            "# TYPE tether_operation_duration_seconds histogram",
            #"tether_operation_duration_seconds_count{operation="attach",protocol="iscsi",mode="network"} 2"#,
            #"tether_operation_duration_seconds_count{operation="attach",protocol="rbd",mode="kernel"} 1"#,
            #"tether_operation_duration_seconds_bucket{operation="attach",protocol="rbd",mode="kernel",le="+Inf"} 1"#,
            // The export slept 30 ms: above the 25 ms bucket (how much above, a loaded machine decides).
            #"tether_operation_duration_seconds_bucket{operation="export",protocol="iscsi",mode="target",le="0.025"} 0"#,
            #"tether_operation_duration_seconds_bucket{operation="export",protocol="iscsi",mode="target",le="+Inf"} 1"#,
        ] {
            #expect(lines.contains(expected), "\(expected) missing from\n\(text)")
        }
        #expect(text.contains("# HELP tether_operation_duration_seconds "))
    }

    @Test func journaledNamesMapToLabels() {
        #expect(OperationStats.StorageProtocol(journaled: "rbd") == .rbd)
        #expect(OperationStats.StorageProtocol(journaled: "iscsi") == .iscsi)
        #expect(OperationStats.Mode(journaled: "kernel") == .kernel)
        #expect(OperationStats.Mode(journaled: "network") == .network)
    }
}
