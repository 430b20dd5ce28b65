/// Small helpers for the libvirt XML and QEMU JSON connectors emit.
public enum DiskDescription {
    /// `text` escaped for an XML attribute or element.
    public static func xmlEscaped(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "'": result += "&apos;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }

    /// A QEMU node or object id for an attachment: QEMU wants letters first and <= 31 characters.
    public static func qemuID(_ prefix: String, _ attachmentID: String) -> String {
        let cleaned = attachmentID.filter { $0.isLetter || $0.isNumber }
        return String("\(prefix)\(cleaned)".prefix(31))
    }
}
