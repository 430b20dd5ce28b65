import Foundation
import Logging
import TetherAgent
import Testing

@testable import tether_bench

/// The compare bench's own arithmetic and parsing (the bench itself runs only by hand).
@Suite struct ComparisonTests {
    @Test func quantilesAreNearestRank() {
        let samples = (1...200).map { Duration.milliseconds($0) }
        #expect(Sampled.quantile(samples, 0.5) == .milliseconds(101))
        #expect(Sampled.quantile(samples, 0.99) == .milliseconds(198))
        #expect(Sampled.quantile([.milliseconds(3)], 0.99) == .milliseconds(3))
    }

    @Test func cpuIsPerOperation() {
        let sampled = Sampled([.milliseconds(1), .milliseconds(2)], cpu: .milliseconds(30), operations: 10)
        #expect(sampled.cpuPerOperation == .milliseconds(3))
    }

    @Test(arguments: [(1.19, "target t: 1.19x (goal <= 1.2x) met"), (1.21, "target t: 1.21x (goal <= 1.2x) missed")])
    func targetLine(value: Double, line: String) {
        #expect(ComparisonTable.Target(name: "t", value: value, unit: "x", goal: 1.2).line == line)
    }

    @Test func anUnmeasuredTargetIsMissed() {
        #expect(ComparisonTable.Target(name: "rbd-cold-attach", value: nil, unit: "x", goal: 0.8).line == "target rbd-cold-attach: - (goal <= 0.8x) missed")
    }

    /// The profile reads tetherd's "attach timing" line as LogfmtLogHandler writes it.
    @Test func attachTimingLinesAreParsed() {
        let lines = Lines()
        var logger = Logger(label: "t") { LogfmtLogHandler(label: $0, level: .debug, output: { lines.append($0) }) }
        logger.logLevel = .debug
        logger.debug("attach timing", metadata: ["attachment": "a-1", "journal_begin_us": "412", "connector_us": "6800", "journal_finish_us": "950"])
        logger.info("attach finished", metadata: ["attachment": "a-2"])
        let timings = Comparison.attachTimings(lines.text)
        #expect(timings.count == 1)
        #expect(timings["a-1"]?.connector == .microseconds(6800))
        #expect(timings["a-1"]?.total == .microseconds(412 + 6800 + 950))
    }
}

final class Lines: @unchecked Sendable {
    // Guarded by `lock`: the handler may write from any thread.
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var text: String { lock.withLock { lines.joined() } }
}
