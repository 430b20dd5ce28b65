import TetherAPI
import TetherCore

extension HumanOutput {
    /// The attachment list as a table, or a sentence when there is none.
    public static func attachments(_ attachments: [AttachmentBody]) -> String {
        guard !attachments.isEmpty else { return "no attachments" }
        return TextTable.render(
            header: ["ID", "VOLUME", "PROTOCOL", "MODE", "STATE", "STATUS", "SIZE", "WWID"],
            rows: attachments.map { attachment in
                [
                    attachment.id, attachment.volumeID, attachment.protocolName, attachment.mode.rawValue, attachment.state,
                    attachment.status?.rawValue ?? missing,
                    attachment.sizeBytes.map(ByteCount.format) ?? missing, attachment.wwid ?? missing,
                ]
            })
    }

    /// One attachment: its fields and paths.
    public static func attachment(_ attachment: AttachmentBody) -> String {
        var fields: [(label: String, value: String)] = [
            ("ID", attachment.id),
            ("Volume", attachment.volumeID),
            ("Protocol", attachment.protocolName),
            ("Mode", attachment.mode.rawValue),
            ("State", attachment.state),
            ("Status", attachment.status.map { status in
                status.rawValue + (attachment.checkedAt.map { " (checked \($0))" } ?? "")
            } ?? missing),
            ("WWID", attachment.wwid ?? missing),
            ("Size", attachment.sizeBytes.map { "\(ByteCount.format($0)) (\($0) bytes)" } ?? missing),
            ("Target", attachment.target),
        ]
        if let device = attachment.devicePath {
            fields.append(("Device", device))
        }
        if let problems = attachment.problems, !problems.isEmpty {
            fields.append(("Problems", problems.joined(separator: "; ")))
        }
        if let error = attachment.lastError {
            fields.append(("Last error", error))
        }
        fields.append(("Created", attachment.createdAt))
        return TextTable.fields(fields) + "\n\n" + section("Paths", paths(attachment.paths))
    }

    /// One attachment with what a hypervisor needs: the libvirt disk XML and the QEMU blockdev.
    public static func attachmentDetails(_ attachment: AttachmentBody) -> String {
        var blocks = [HumanOutput.attachment(attachment)]
        if case .object(let details)? = attachment.details, !details.isEmpty {
            blocks.append("Details:\n" + TextTable.fields(details.sorted { $0.key < $1.key }.map { key, value in
                let text = value.arrayValue.map { $0.compactMap(\.stringValue).joined(separator: ", ") } ?? value.stringValue ?? json(value, pretty: false)
                return (key, text.isEmpty ? "none" : text)
            }))
        }
        if let xml = attachment.diskXML {
            blocks.append("libvirt disk XML:\n" + xml.trimmingTrailingNewlines())
        }
        if let qemu = attachment.qemu {
            blocks.append("QEMU blockdev:\n" + json(redacted(qemu.blockdev)))
            if !qemu.objects.isEmpty {
                blocks.append("QEMU objects:\n" + qemu.objects.map { json(redacted($0), pretty: false) }.joined(separator: "\n"))
            }
        }
        return blocks.joined(separator: "\n\n")
    }

    /// What `tether attach` says about the outcome, above the attachment.
    public static func attached(_ attachment: AttachmentBody, created: Bool) -> String {
        let headline = created
            ? "attached volume \(attachment.volumeID) (\(attachment.mode.rawValue))"
            : "volume \(attachment.volumeID) was already attached"
        return headline + "\n\n" + HumanOutput.attachment(attachment)
    }

    /// What `tether detach REF` did.
    public static func detached(_ response: DetachResponse, ref: String) -> String {
        guard !response.detached.isEmpty else { return "nothing attached for \(ref)" }
        return response.detached.map { "detached \($0)" }.joined(separator: "\n")
    }

    static func paths(_ paths: [AttachedVolume.Path]) -> String {
        guard !paths.isEmpty else { return "none" }
        return TextTable.render(
            header: ["PORTAL", "TARGET", "LUN", "STATE"],
            rows: paths.map { [$0.portal, $0.target, $0.lun.map(String.init) ?? missing, $0.state] })
    }
}

extension String {
    fileprivate func trimmingTrailingNewlines() -> Substring {
        var slice = self[...]
        while slice.last?.isNewline == true { slice.removeLast() }
        return slice
    }
}
