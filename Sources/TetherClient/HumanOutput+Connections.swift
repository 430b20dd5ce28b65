import TetherAPI

extension HumanOutput {
    /// First what a script takes (`scriptLine`), then the connection and its attachment.
    public static func connection(_ item: ConnectionBody, created: Bool? = nil) -> String {
        var lines = item.attachment.flatMap(scriptLine).map { [$0] } ?? []
        switch created {
        case true?: lines.append("connected volume \(item.volumeID) from \(item.storage)")
        case false?: lines.append("volume \(item.volumeID) was already connected")
        case nil: break
        }
        var fields: [(label: String, value: String)] = [
            ("Volume", item.volumeID), ("Storage", item.storage), ("State", item.state), ("Export", item.export),
        ]
        if let pending = item.pendingError { fields.append(("Pending", pending)) }
        lines.append(TextTable.fields(fields))
        if let attachment = item.attachment {
            lines.append(HumanOutput.attachmentDetails(attachment))
        }
        return lines.joined(separator: "\n\n")
    }

    public static func disconnected(_ response: DisconnectResponse) -> String {
        response.disconnected ? "disconnected volume \(response.volumeID)" : "volume \(response.volumeID) was not connected here"
    }

    public static func connections(_ items: [ConnectionBody]) -> String {
        guard !items.isEmpty else { return "no connected volumes" }
        return TextTable.render(
            header: ["VOLUME", "STORAGE", "STATE", "EXPORT", "ATTACHMENT", "PENDING"],
            rows: items.map { [$0.volumeID, $0.storage, $0.state, $0.export, $0.attachment?.id ?? missing, $0.pendingError ?? ""] })
    }
}
