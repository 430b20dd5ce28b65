import Foundation

/// The one table `scripts/bench.sh compare` prints: a row per measure, Tether beside its peer
/// (a bare-library floor, os-brick, or a reference figure), then one line per target.
struct ComparisonTable {
    struct Row {
        var measure: String
        /// Samples counted on each side ("200/200"), warm-ups left out.
        var samples: String
        var tether: (median: String, p99: String, cpu: String)
        var peer: String
        var peerFigures: (median: String, p99: String, cpu: String)
        var ratio: String
    }

    struct Target {
        var name: String
        var value: Double?
        var unit: String
        var goal: Double

        var line: String {
            let shown = value.map { String(format: "%.2f", $0) + unit } ?? "-"
            let met = value.map { $0 <= goal } ?? false
            return "target \(name): \(shown) (goal <= \(String(format: "%g", goal))\(unit)) \(met ? "met" : "missed")"
        }
    }

    var rows: [Row] = []
    var notes: [String] = []
    var targets: [Target] = []

    /// A row of two timed sides; the ratio is Tether's median over the peer's.
    mutating func add(_ measure: String, tether: Sampled, peer: String, _ other: Sampled?, why: String? = nil) {
        let ratio = other.map { String(format: "%.2fx", tether.median.milliseconds / max(0.000_001, $0.median.milliseconds)) } ?? "-"
        rows.append(Row(
            measure: measure, samples: "\(tether.samples.count)/\(other.map { String($0.samples.count) } ?? "-")",
            tether: Self.figures(tether), peer: peer, peerFigures: other.map(Self.figures) ?? ("-", "-", "-"), ratio: ratio))
        if other == nil, let why { notes.append("\(measure): \(peer == "-" ? "no peer" : "no \(peer) figures"): \(why)") }
    }

    /// A row of figures that are not latencies (memory, a multiple).
    mutating func add(_ measure: String, samples: String, tether: (String, String, String), peer: String, _ peerFigures: (String, String, String), ratio: String) {
        rows.append(Row(measure: measure, samples: samples, tether: tether, peer: peer, peerFigures: peerFigures, ratio: ratio))
    }

    static func figures(_ sampled: Sampled) -> (median: String, p99: String, cpu: String) {
        (ms(sampled.median), ms(sampled.p99), sampled.cpuPerOperation.map(ms) ?? "-")
    }

    static func ms(_ duration: Duration) -> String {
        String(format: "%.2f ms", duration.milliseconds)
    }

    func render() -> String {
        let header = Row(
            measure: "measure", samples: "samples T/P", tether: ("Tether med", "Tether p99", "Tether CPU/op"), peer: "peer / floor",
            peerFigures: ("peer med", "peer p99", "peer CPU/op"), ratio: "ratio")
        var lines = [Self.line(header), String(repeating: "-", count: Self.line(header).count)]
        lines += rows.map(Self.line)
        return lines.joined(separator: "\n")
    }

    static func line(_ row: Row) -> String {
        [
            pad(row.measure, 44), pad(row.samples, 12), pad(row.tether.median, 11, right: true), pad(row.tether.p99, 11, right: true),
            pad(row.tether.cpu, 14, right: true), "  " + pad(row.peer, 22), pad(row.peerFigures.median, 11, right: true),
            pad(row.peerFigures.p99, 11, right: true), pad(row.peerFigures.cpu, 12, right: true), pad(row.ratio, 9, right: true),
        ].joined(separator: " ")
    }

    static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        guard text.count < width else { return text }
        let fill = String(repeating: " ", count: width - text.count)
        return right ? fill + text : text + fill
    }
}
