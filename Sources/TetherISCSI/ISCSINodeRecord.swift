import TetherCore

/// open-iscsi's node record files, which Tether edits only to put CHAP passwords in: iscsiadm
/// takes values only as arguments, where every user of the machine can read them.
///
/// A record is `<nodes>/<iqn>/<address>,<port>` (a file, as `iscsiadm --op new` writes a portal
/// given without a portal group tag) or `<nodes>/<iqn>/<address>,<port>,<tpgt>/<iface>` (as
/// discovery writes). Lines are `name = value`; iscsiadm strips blanks around the value and reads
/// up to the line end, and keeps a file's mode when it rewrites it.
enum ISCSINodeRecord {
    /// The longest CHAP secret open-iscsi keeps (AUTH_STR_MAX_LEN less its NUL).
    static let maximumSecretLength = 255

    /// Record files for `portal` among `entries` of `<nodes>/<iqn>`, best first: each is a
    /// path relative to that directory.
    static func candidates(for portal: Portal, iface: String, in entries: [String]) -> [String] {
        let prefix = "\(portal.host),\(portal.port)"
        var files: [String] = []
        for entry in entries where entry == prefix || entry.hasPrefix(prefix + ",") {
            files.append(entry == prefix ? entry : "\(entry)/\(iface)")
        }
        // The newer layout (with a tpgt) first: iscsiadm prefers it when both exist.
        return files.sorted { $0.contains("/") && !$1.contains("/") }
    }

    /// `text` with each of `settings` set: an existing line is replaced, a missing one is added
    /// before the closing "# END RECORD".
    static func setting(_ settings: [(name: String, value: String)], in text: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        for setting in settings {
            let line = "\(setting.name) = \(setting.value)"
            if let index = lines.firstIndex(where: { name(of: $0) == setting.name }) {
                lines[index] = line
            } else if let end = lines.lastIndex(where: { $0.hasPrefix("# END RECORD") }) {
                lines.insert(line, at: end)
            } else {
                lines.append(line)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The setting name of a record line, nil for comments and blank lines.
    static func name(of line: String) -> String? {
        let trimmed = line.drop { $0 == " " || $0 == "\t" }
        guard let first = trimmed.first, first != "#" else { return nil }
        return String(trimmed.prefix { $0 != " " && $0 != "\t" && $0 != "=" })
    }

    /// The value of `name` in a record.
    static func value(of name: String, in text: String) -> String? {
        for line in text.split(separator: "\n") where Self.name(of: String(line)) == name {
            guard let equals = line.firstIndex(of: "=") else { return nil }
            return String(line[line.index(after: equals)...]).trimmedLine
        }
        return nil
    }

    /// Refuses values a record cannot hold as given: iscsiadm would cut them at a line end or
    /// drop their outer blanks, and the login would fail with a confusing CHAP error.
    static func check(_ value: String, what: String) throws {
        guard !value.isEmpty, value.utf8.count <= maximumSecretLength else {
            throw TetherError.invalidInput("\(what) must be 1 to \(maximumSecretLength) bytes long for open-iscsi")
        }
        guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }), value.trimmedLine == value else {
            throw TetherError.invalidInput("\(what) has control characters or outer blanks, which open-iscsi cannot keep")
        }
    }
}
