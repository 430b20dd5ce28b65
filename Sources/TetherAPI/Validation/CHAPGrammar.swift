import TetherCore

/// CHAP user names and secrets: 1-255 printable ASCII characters, no space and no `,`.
///
/// The limits are the peers': libiscsi keeps each in a `char[MAX_STRING_SIZE + 1]` (255) and
/// open-iscsi in `AUTH_STR_MAX_LEN` (256, with the NUL); tgt's management protocol separates its
/// `user=…,password=…` parameters with `,`; open-iscsi's node records are `key = value` lines,
/// so spaces and line breaks do not survive them. User names also appear in libvirt XML and
/// QEMU JSON, so they may not hold `<`, `>`, `&`, quotes or `\`.
public enum CHAPGrammar {
    public static let maximumBytes = 255
    public static let userSummary = "1-255 printable ASCII characters without space , < > & ' \" \\"
    public static let secretSummary = "1-255 printable ASCII characters without space or ,"

    @discardableResult
    public static func checkUser(_ text: String, field: FieldPath) throws -> String {
        try check(text, field: field, forbidden: " ,<>&'\"\\", summary: userSummary, what: "a CHAP user name", shows: true)
    }

    /// The secret itself is never shown in the error.
    public static func checkSecret(_ text: String, field: FieldPath) throws {
        try check(text, field: field, forbidden: " ,", summary: secretSummary, what: "a CHAP secret", shows: false)
    }

    @discardableResult
    static func check(_ text: String, field: FieldPath, forbidden: String, summary: String, what: String, shows: Bool) throws -> String {
        let hint = "\(what) is \(summary): the limits of libiscsi and open-iscsi (255 bytes) and tgt (',' separates its parameters)"
        guard !text.isEmpty else { throw TetherError.invalidField(field, "is empty", hint: hint) }
        guard text.utf8.count <= maximumBytes else {
            throw TetherError.invalidField(field, "is \(text.utf8.count) bytes long, more than \(maximumBytes)", hint: hint)
        }
        for (offset, scalar) in text.unicodeScalars.enumerated() where !(0x21...0x7e).contains(scalar.value) || forbidden.unicodeScalars.contains(scalar) {
            let shown = shows && scalar.value >= 0x21 && scalar.value <= 0x7e ? "\"\(scalar)\"" : TextGrammar.codePoint(scalar)
            throw TetherError.invalidField(field, "contains \(shown) at character \(offset)", hint: hint)
        }
        return text
    }
}
