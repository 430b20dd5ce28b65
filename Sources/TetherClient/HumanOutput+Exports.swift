import TetherAPI
import TetherCore

extension HumanOutput {
    /// The export list as a table, or a sentence when there is none.
    public static func exports(_ exports: [ExportBody]) -> String {
        guard !exports.isEmpty else { return "no exports" }
        return TextTable.render(
            header: ["VOLUME", "TARGET", "LUN", "PORTALS", "INITIATORS", "WWID", "PATH"],
            rows: exports.map { export in
                [
                    export.volumeID, export.targetIQN, String(export.lun), list(export.portals), list(export.initiators),
                    export.wwid, export.path,
                ]
            })
    }

    /// A new or existing export, with the CHAP user but never its password.
    ///
    /// - Parameter savedTo: where the full connection_info was written, if anywhere.
    public static func export(_ response: ExportResponse, created: Bool, savedTo: String?) -> String {
        let export = response.export
        let headline = created ? "exported volume \(export.volumeID)" : "volume \(export.volumeID) was already exported"
        if export.protocolName == "rbd" {
            let data = response.connectionInfo.data
            return headline + "\n\n" + TextTable.fields([
                ("Volume", export.volumeID),
                ("Cluster", export.targetIQN),
                ("Image", export.path),
                ("Monitors", list(export.portals)),
                ("User", data["auth_username"]?.stringValue ?? missing),
                ("Secret UUID", data["secret_uuid"]?.stringValue ?? missing),
            ] + (savedTo.map { [("Connection info", "\($0) (mode 0600)")] } ?? []))
        }
        var fields: [(label: String, value: String)] = [
            ("Volume", export.volumeID),
            ("Path", export.path),
            ("Target", export.targetIQN),
            ("LUN", String(export.lun)),
            ("Portals", list(export.portals)),
            ("Initiators", list(export.initiators)),
            ("WWID", export.wwid),
            ("Auth", auth(response.connectionInfo, savedTo: savedTo)),
        ]
        if let savedTo {
            fields.append(("Connection info", "\(savedTo) (mode 0600)"))
        }
        return headline + "\n\n" + TextTable.fields(fields)
    }

    /// What `tether export delete` did.
    public static func exportDeletion(_ deletion: ExportDeletion, initiator: String?) -> String {
        var lines: [String] = []
        if !deletion.initiatorsRemoved.isEmpty {
            lines.append("revoked access to \(deletion.volumeID) for \(list(deletion.initiatorsRemoved))")
        }
        if deletion.targetRemoved {
            lines.append("removed the target of \(deletion.volumeID)")
        }
        guard lines.isEmpty else { return lines.joined(separator: "\n") }
        return initiator.map { "nothing exported for \(deletion.volumeID) to \($0)" } ?? "nothing exported for \(deletion.volumeID)"
    }

    private static func auth(_ info: ConnectionInfo, savedTo: String?) -> String {
        guard let method = info.data["auth_method"]?.stringValue, method.uppercased() != "NONE", !method.isEmpty else {
            return "none"
        }
        var text = method
        if let user = info.data["auth_username"]?.stringValue {
            text += ", user \(user)"
        }
        let passwordNote = savedTo == nil ? "password not shown; save it with --output FILE" : "password in the connection info file"
        return "\(text) (\(passwordNote))"
    }

    private static func list(_ items: [String]) -> String {
        items.isEmpty ? missing : items.joined(separator: ", ")
    }
}
