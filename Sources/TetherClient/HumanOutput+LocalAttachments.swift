import TetherAPI
import TetherCore

extension HumanOutput {
    public static func localAttachments(_ list: [LocalAttachmentBody]) -> String {
        guard !list.isEmpty else { return "no local attachments" }
        return TextTable.render(
            header: ["VOLUME", "STATE", "FLOW", "CINDER ATTACHMENT", "MODE", "DEVICE", "PENDING"],
            rows: list.map { item in
                [
                    item.volumeID, item.state, "\(item.flow) \(item.microversion)", item.cinderAttachmentID ?? missing,
                    (item.attachment?.mode.rawValue ?? missing) + (item.readOnly ? " ro" : ""), item.attachment?.devicePath ?? missing,
                    item.pendingError ?? "",
                ]
            })
    }

    public static func localAttachment(_ item: LocalAttachmentBody, created: Bool? = nil) -> String {
        var lines = item.attachment.flatMap(scriptLine).map { [$0] } ?? []
        switch created {
        case true?: lines.append("local-attached volume \(item.volumeID) through Cinder (\(item.flow), \(item.microversion))")
        case false?: lines.append("volume \(item.volumeID) was already local-attached")
        case nil: break
        }
        var fields: [(label: String, value: String)] = [
            ("Volume", item.volumeID),
            ("State", item.state),
            ("Cinder flow", "\(item.flow) (microversion \(item.microversion))"),
            ("Cinder attachment", item.cinderAttachmentID ?? missing),
            ("Read-only", item.readOnly ? "yes" : "no"),
        ]
        if let pending = item.pendingError { fields.append(("Pending", pending)) }
        if let timing = item.timing {
            fields.append(("Time", "\(format(timing.totalMilliseconds)) ms, of which Cinder \(format(timing.cinderMilliseconds)) ms"))
        }
        lines.append(TextTable.fields(fields))
        if let attachment = item.attachment {
            lines.append(HumanOutput.attachmentDetails(attachment))
        }
        return lines.joined(separator: "\n\n")
    }

    /// What a script takes first: the device path in kernel mode (as `cinder local-attach`
    /// prints it), the disk XML in network mode.
    /// First what a script takes: the device path in kernel mode (as `cinder local-attach` prints
    /// it), the disk XML in network mode. The stable name when udev made one: /dev/rbd0 or
    /// /dev/dm-3 may name another volume after a reboot.
    static func scriptLine(_ attachment: AttachmentBody) -> String? {
        if attachment.mode == .kernel, let path = attachment.details?["by_tether"]?.stringValue ?? attachment.devicePath { return path }
        return attachment.diskXML.map { String($0.reversed().drop { $0 == "\n" }.reversed()) }
    }

    public static func localDetached(_ response: LocalDetachResponse) -> String {
        guard response.detached else { return "volume \(response.volumeID) was not local-attached here" }
        var text = "local-detached volume \(response.volumeID)"
        if let timing = response.timing {
            text += " (\(format(timing.totalMilliseconds)) ms, of which Cinder \(format(timing.cinderMilliseconds)) ms)"
        }
        return text
    }

    public static func cinderConnection(_ body: CinderConnectionBody) -> String {
        guard let info = body.connectionInfo else { return "terminated the connection of volume \(body.volumeID) for this node" }
        return json(redacted(info.json(shape: .nested)))
    }

    private static func format(_ milliseconds: Double) -> String {
        // The agent's number: Int(exactly:) so NaN, infinities or 1e300 print as they are, not trap.
        Int(exactly: milliseconds.rounded()).map(String.init) ?? "\(milliseconds)"
    }
}
