import TetherCore

/// Integers from input: range-checked before any conversion, so no later `Int32(_:)`,
/// `off_t(_:)` or `UInt16(_:)` can trap on them.
///
/// A JSON integer, an integral JSON number, or a string of ASCII digits (Cinder sends ports and
/// some LUNs as strings) are read; anything else, and anything out of `range`, is refused.
public enum NumberGrammar {
    /// iSCSI LUNs: libiscsi carries a LUN in 16 bits (`iscsi_pdu_set_lun`), tgt and the kernel
    /// in more; os-brick passes them through unchanged.
    public static let lun: ClosedRange<Int64> = 0...65535
    public static let port: ClosedRange<Int64> = 1...65535
    /// Backing files: whole 512-byte sectors, at most 1 PiB (tgt's and ext4's limits are lower;
    /// ftruncate answers EFBIG cleanly below off_t's maximum).
    public static let sizeBytes: ClosedRange<Int64> = 512...(1 << 50)
    /// Configured timeouts, in seconds: a day at most, so milliseconds fit every C type used.
    public static let timeoutSeconds: ClosedRange<Int64> = 1...86_400

    /// The integer `value` holds, in `range`.
    /// - Throws: `invalid_input` naming `field` and the range.
    public static func check(_ value: JSONValue, field: FieldPath, range: ClosedRange<Int64>, what: String = "a number") throws -> Int64 {
        let hint = "\(what) is an integer \(range.lowerBound)-\(range.upperBound)"
        let number: Int64?
        var shown: String
        switch value {
        case .int(let integer):
            number = integer
            shown = "\(integer)"
        case .double(let double):
            // Int64(exactly:) is nil for fractions, NaN, infinities and magnitudes beyond Int64.
            number = Int64(exactly: double)
            shown = "\(double)"
            if number == nil, double.rounded() == double, double.isFinite {
                throw TetherError.invalidField(field, "\(shown) is out of range \(range.lowerBound)-\(range.upperBound)", hint: hint)
            }
        case .string(let text):
            var trimmed = Substring(text)
            while trimmed.first == " " { trimmed.removeFirst() }
            while trimmed.last == " " { trimmed.removeLast() }
            let digits = trimmed.first == "-" ? trimmed.dropFirst() : trimmed
            // debugDescription: a line break in the value must not reach the log as one.
            shown = (text.count > 24 ? String(text.prefix(24)) + "..." : text).debugDescription
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw TetherError.invalidField(field, "\(shown) is not an integer", hint: hint)
            }
            guard digits.count <= 18 else {
                throw TetherError.invalidField(field, "\(shown) is out of range \(range.lowerBound)-\(range.upperBound)", hint: hint)
            }
            number = Int64(String(trimmed))
        default:
            throw TetherError.invalidField(field, "must be an integer, not \(kind(value))", hint: hint)
        }
        guard let number else {
            throw TetherError.invalidField(field, "\(shown) is not an integer", hint: hint)
        }
        guard range.contains(number) else {
            throw TetherError.invalidField(field, "\(shown) is out of range \(range.lowerBound)-\(range.upperBound)", hint: hint)
        }
        return number
    }

    static func kind(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .array: "a list"
        case .object: "an object"
        }
    }
}

/// Booleans of query parameters: `true`, `false`, `1` or `0`; anything else is refused rather
/// than read as false (`?force=yes-please` must not quietly mean "no force").
public enum FlagGrammar {
    public static func check(_ text: String?, field: FieldPath) throws -> Bool? {
        guard let text else { return nil }
        switch text {
        case "true", "1": return true
        case "false", "0": return false
        default:
            let shown = text.count > 24 ? "\(text.prefix(24))..." : text
            throw TetherError.invalidField(field, "\"\(shown.debugDescription.dropFirst().dropLast())\" is not a boolean", hint: "write true, false, 1 or 0")
        }
    }
}
