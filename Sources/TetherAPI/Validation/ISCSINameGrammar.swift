import TetherCore

/// iSCSI names (RFC 3720 §3.2.6) for initiators and targets:
///
/// - `iqn.YYYY-MM.<reversed domain>[:<anything>]`,
/// - `eui.` and 16 hexadecimal digits,
/// - `naa.` and 16 or 32 hexadecimal digits;
///
/// at most 223 bytes, of the characters RFC 3722's stringprep leaves: letters, digits, `-`, `.`
/// and `:`. Upper case is accepted (stringprep maps it to lower case; tgt and open-iscsi compare
/// names as given). No space, `,`, `_`, NUL or line break: a line break inside an initiator name
/// would become a second ACL entry in tgtd.
public enum ISCSINameGrammar {
    public static let maximumBytes = 223
    public static let summary = "iqn.YYYY-MM.reversed.domain[:name], eui.<16 hex> or naa.<16 or 32 hex>; letters, digits, - . : only; at most 223 bytes"

    /// Checks `text` and returns it.
    /// - Throws: `invalid_input` naming `field` and what is wrong.
    @discardableResult
    public static func check(_ text: String, field: FieldPath, what: String = "an iSCSI name") throws -> String {
        let hint = "\(what) is \(summary) (RFC 3720 3.2.6), e.g. iqn.1993-08.org.debian:01:compute-1"
        guard !text.isEmpty else { throw TetherError.invalidField(field, "is empty", hint: hint) }
        guard text.utf8.count <= maximumBytes else {
            throw TetherError.invalidField(field, "is \(text.utf8.count) bytes long, more than \(maximumBytes)", hint: hint)
        }
        for (offset, scalar) in text.unicodeScalars.enumerated() where !allowed(scalar) {
            throw TetherError.invalidField(field, "contains \(TextGrammar.codePoint(scalar)) at character \(offset), which \(what) cannot hold", hint: hint)
        }
        let lowered = text.lowercased()
        if lowered.hasPrefix("iqn.") {
            guard validIQN(lowered.dropFirst(4)) else {
                throw TetherError.invalidField(field, "\"\(text)\" is not an iqn. name: it needs iqn.YYYY-MM.<reversed domain>", hint: hint)
            }
        } else if lowered.hasPrefix("eui.") {
            guard isHex(lowered.dropFirst(4), counts: [16]) else {
                throw TetherError.invalidField(field, "\"\(text)\" is not an eui. name: it needs 16 hexadecimal digits", hint: hint)
            }
        } else if lowered.hasPrefix("naa.") {
            guard isHex(lowered.dropFirst(4), counts: [16, 32]) else {
                throw TetherError.invalidField(field, "\"\(text)\" is not a naa. name: it needs 16 or 32 hexadecimal digits", hint: hint)
            }
        } else {
            throw TetherError.invalidField(field, "\"\(text)\" starts with none of iqn., eui., naa.", hint: hint)
        }
        return text
    }

    static func allowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", ".", ":": true
        default: false
        }
    }

    /// `YYYY-MM.` then a naming authority (a reversed domain name: labels of letters, digits and
    /// `-`), then optionally `:` and anything of the allowed characters.
    static func validIQN(_ rest: Substring) -> Bool {
        let chars = Array(rest.utf8)
        guard chars.count >= 9, chars[0..<4].allSatisfy(isDigit), chars[4] == UInt8(ascii: "-"), chars[5..<7].allSatisfy(isDigit),
            chars[7] == UInt8(ascii: ".")
        else { return false }
        let month = Int(chars[5] - 48) * 10 + Int(chars[6] - 48)
        guard (1...12).contains(month) else { return false }
        let afterDate = rest.dropFirst(8)
        let authority = afterDate.prefix { $0 != ":" }
        let labels = authority.split(separator: ".", omittingEmptySubsequences: false)
        return !authority.isEmpty && labels.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0 != "." } }
    }

    static func isDigit(_ byte: UInt8) -> Bool { (48...57).contains(byte) }

    static func isHex(_ text: Substring, counts: Set<Int>) -> Bool {
        counts.contains(text.count) && text.allSatisfy { $0.isASCII && $0.isHexDigit }
    }
}
