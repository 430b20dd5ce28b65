import TetherCore

/// Names that become parts of file names, tgt target names, udev links, librados calls and
/// URLs: volume ids, attachment ids, Ceph cluster, pool, image and user names.
///
/// Grammar: `[A-Za-z0-9._-]{1,128}`, not `.` or `..`. Cinder's UUIDs (and its `volume-<uuid>`
/// image names) fit; `/`, `:`, spaces, NUL and line breaks do not.
public enum IdentifierGrammar: String, Sendable, CaseIterable {
    case volumeID = "a volume id"
    case reference = "an attachment id or volume id"
    case clusterName = "a Ceph cluster name"
    case poolName = "a Ceph pool name"
    case imageName = "an RBD image name"
    case cephUser = "a Ceph user name"

    public static let maximumLength = 128
    public static let summary = "1-128 characters of A-Z a-z 0-9 . _ -, not . or .."

    /// Checks `text` and returns it.
    /// - Throws: `invalid_input` naming `field`, what is wrong and the grammar.
    @discardableResult
    public func check(_ text: String, field: FieldPath) throws -> String {
        let hint = "\(rawValue) is \(Self.summary) (a Cinder UUID fits)"
        if text.isEmpty {
            throw TetherError.invalidField(field, "is empty", hint: hint)
        }
        if text.utf8.count > Self.maximumLength {
            throw TetherError.invalidField(field, "is \(text.utf8.count) bytes long, more than \(Self.maximumLength)", hint: hint)
        }
        if text == "." || text == ".." {
            throw TetherError.invalidField(field, "\"\(text)\" is not \(rawValue)", hint: hint)
        }
        for (offset, scalar) in text.unicodeScalars.enumerated() where !Self.allowed(scalar) {
            let shown = TextGrammar.isControl(scalar) || scalar == " " ? TextGrammar.codePoint(scalar) : "\"\(scalar)\" (\(TextGrammar.codePoint(scalar)))"
            throw TetherError.invalidField(field, "contains \(shown) at character \(offset), which \(rawValue) cannot hold", hint: hint)
        }
        return text
    }

    static func allowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", ".", "_", "-": true
        default: false
        }
    }
}

/// A UUID as Ceph and libvirt write them (fsid, secret UUID): 8-4-4-4-12 hexadecimal digits.
public enum UUIDGrammar {
    @discardableResult
    public static func check(_ text: String, field: FieldPath) throws -> String {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        let valid = groups.map(\.count) == [8, 4, 4, 4, 12] && groups.allSatisfy { $0.allSatisfy { $0.isASCII && $0.isHexDigit } }
        guard valid else {
            let shown = text.utf8.count > 64 ? "a \(text.utf8.count)-byte value" : "\"\(text.debugDescription.dropFirst().dropLast())\""
            throw TetherError.invalidField(field, "\(shown) is not a UUID", hint: "write it as 8-4-4-4-12 hexadecimal digits, e.g. 457eb676-33da-42ec-9a8c-9293d545c337")
        }
        return text
    }
}
