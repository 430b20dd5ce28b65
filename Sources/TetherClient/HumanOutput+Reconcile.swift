import TetherAPI
import TetherCore

extension HumanOutput {
    /// What a reconcile found and did: attachments by status, unfinished operations, orphans.
    public static func reconcile(_ report: ReconcileReport) -> String {
        var blocks: [String] = []
        if report.attachments.isEmpty {
            blocks.append("no attachments")
        } else {
            blocks.append(
                TextTable.render(
                    header: ["ID", "VOLUME", "STATUS", "WAS", "FOUND", "REPAIRED"],
                    rows: report.attachments.map { check in
                        [
                            check.id, check.volumeID, check.status.rawValue, check.previous.rawValue, lines(check.problems),
                            lines(check.repairs),
                        ]
                    }))
        }
        if !report.unfinished.isEmpty {
            blocks.append(
                section(
                    "Unfinished",
                    TextTable.render(
                        header: ["ID", "VOLUME", "STATE", "FINISHED", "ERROR"],
                        rows: report.unfinished.map { [$0.id, $0.volumeID, $0.state, $0.finished ? "yes" : "no", $0.error ?? missing] })))
        }
        if !report.orphans.isEmpty {
            blocks.append(
                section(
                    "Orphans" + (report.orphans.contains { !$0.removed } ? " (tether reconcile --clean removes them)" : ""),
                    TextTable.render(
                        header: ["KIND", "NAME", "DETAIL", "REMOVED"],
                        rows: report.orphans.map { [$0.orphan.kind.rawValue, $0.orphan.name, $0.orphan.detail, $0.removed ? "yes" : ($0.error ?? "no")] })))
        }
        if !report.errors.isEmpty {
            blocks.append(section("Could not check", report.errors.joined(separator: "\n")))
        }
        blocks.append(report.isClean ? "all healthy (\(report.elapsedMilliseconds) ms)" : "not all healthy (\(report.elapsedMilliseconds) ms)")
        return blocks.joined(separator: "\n\n")
    }

    private static func lines(_ items: [String]) -> String {
        items.isEmpty ? missing : items.joined(separator: "; ")
    }
}
