import Foundation

/// `--profile`: where one warm RBD attach and one network iSCSI attach spend their time, from the
/// client's clock, tetherd's debug line "attach timing" (journal intent, connector, result
/// journaled; AttachmentService.attachNew) and the floor doing the connector's library work.
extension Comparison {
    struct Phases {
        var begin: Duration
        var connector: Duration
        var finish: Duration
        var total: Duration { begin + connector + finish }
    }

    func profile() -> String {
        let timings = Self.attachTimings(agent.log())
        var lines = ["profile: medians over each loop's counted samples; tetherd's phases from its debug line \"attach timing\""]
        let loops: [(String, String, Sampled?, String)] = [
            ("rbd-warm", "warm RBD attach", rbdFloorWarm, "librbd floor (same checks)"),
            ("iscsi", "network iSCSI attach", iscsiFloor, "libiscsi floor (2 portals)"),
        ]
        for (label, title, floor, floorName) in loops {
            let matched = (attachTimes[label] ?? []).compactMap { sample in timings[sample.id].map { (client: sample.time, phases: $0) } }
            guard !matched.isEmpty else {
                lines.append("  \(title): no \"attach timing\" lines in tetherd's log (it runs at log level \(agent.logLevel))")
                continue
            }
            let median = { (values: [Duration]) in String(format: "%.2f ms", Sampled.quantile(values, 0.5).milliseconds) }
            let connector = Sampled.quantile(matched.map { $0.phases.connector }, 0.5)
            lines.append("  \(title), \(matched.count) samples: client round trip \(median(matched.map { $0.client }))")
            lines.append("    outside the attach service (HTTP both ways, routing, validation, volume lock, journal read, JSON, hops): "
                + median(matched.map { $0.client - $0.phases.total }))
            lines.append("    journal intent (+ the \"attach started\" log line) \(median(matched.map { $0.phases.begin })); "
                + "connector \(median(matched.map { $0.phases.connector })); result journaled \(median(matched.map { $0.phases.finish }))")
            if let floor {
                lines.append("    of the connector: \(floorName) \(ComparisonTable.ms(floor.median)); the connector's own rest (lookups, "
                    + "conf and secret files, disk description, queue hops) " + ComparisonTable.ms(connector - floor.median))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The phases of each attachment, from logfmt lines `msg="attach timing" attachment=ID journal_begin_us=N ...`.
    static func attachTimings(_ log: String) -> [String: Phases] {
        var timings: [String: Phases] = [:]
        for line in log.split(separator: "\n") where line.contains("msg=\"attach timing\"") {
            var fields: [String: String] = [:]
            for token in line.split(separator: " ") {
                let parts = token.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            }
            let micros = { (key: String) in fields[key].flatMap { Int64($0) }.map { Duration.microseconds($0) } }
            guard let id = fields["attachment"], let begin = micros("journal_begin_us"), let connector = micros("connector_us"),
                let finish = micros("journal_finish_us")
            else { continue }
            timings[id] = Phases(begin: begin, connector: connector, finish: finish)
        }
        return timings
    }
}
