import TetherAPI

extension HumanOutput {
    /// Registered clusters as a table, then any registry file the agent skipped.
    public static func clusters(_ list: ClusterList) -> String {
        var text = list.clusters.isEmpty
            ? "no Ceph clusters registered"
            : TextTable.render(
                header: ["NAME", "FSID", "MONITORS", "USERS"],
                rows: list.clusters.map { [$0.name, $0.fsid, $0.monHost, $0.users.map(\.name).joined(separator: ", ")] })
        if !list.problems.isEmpty {
            text += "\n\nskipped registry files:\n" + list.problems.map { "  \($0)" }.joined(separator: "\n")
        }
        return text
    }

    public static func cluster(_ cluster: ClusterBody) -> String {
        var text = TextTable.fields([("Name", cluster.name), ("FSID", cluster.fsid), ("Monitors", cluster.monHost), ("Conf", cluster.conf)])
        text += "\n\nUsers:\n" + TextTable.render(
            header: ["USER", "KEY", "SECRET UUID", "SECRET USAGE", "KEYRING"],
            rows: cluster.users.map { [$0.name, $0.hasKey ? "yes" : "missing", $0.secretUUID, $0.secretUsage, $0.keyring] })
            .split(separator: "\n").map { "  \($0)" }.joined(separator: "\n")
        return text
    }

    public static func clusterSync(_ sync: ClusterSyncBody) -> String {
        var lines = sync.written.map { "wrote \($0)" } + sync.deleted.map { "removed \($0)" }
        lines += sync.conflicts.map { "left alone (not written by Tether): \($0)" }
        return lines.isEmpty ? "nothing to change" : lines.joined(separator: "\n")
    }
}
