import TetherCore

/// Free text that may reach a C call, a command, a file name, XML or QEMU's JSON: no NUL and no
/// other control character (C0, DEL, C1, the Unicode line and paragraph separators), and at most
/// `maximumBytes` bytes of UTF-8.
///
/// A NUL would be cut off silently at the C boundary (the journal then says one name, libiscsi
/// or tgtd another); a line break splits tgt's and open-iscsi's line-based records.
public enum TextGrammar {
    /// The first control character in `text`, with its offset in characters.
    public static func firstControlCharacter(in text: String, allowing allowed: Set<Unicode.Scalar> = []) -> (offset: Int, scalar: Unicode.Scalar)? {
        for (offset, scalar) in text.unicodeScalars.enumerated() where isControl(scalar) && !allowed.contains(scalar) {
            return (offset, scalar)
        }
        return nil
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1f, 0x7f...0x9f, 0x2028, 0x2029: true
        default: false
        }
    }

    /// `U+000A`
    static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// Checks `text` and returns it.
    /// - Throws: `invalid_input` naming `field`.
    @discardableResult
    public static func check(
        _ text: String, field: FieldPath, maximumBytes: Int, allowEmpty: Bool = false, allowing allowed: Set<Unicode.Scalar> = []
    ) throws -> String {
        if text.isEmpty, !allowEmpty {
            throw TetherError.invalidField(field, "is empty", hint: "give a value")
        }
        let bytes = text.utf8.count
        guard bytes <= maximumBytes else {
            throw TetherError.invalidField(field, "is \(bytes) bytes long, more than the \(maximumBytes) allowed", hint: "shorten it")
        }
        if let (offset, scalar) = firstControlCharacter(in: text, allowing: allowed) {
            throw TetherError.invalidField(
                field, "contains the control character \(codePoint(scalar)) at character \(offset)",
                hint: "remove NUL, line breaks and other control characters")
        }
        return text
    }
}
