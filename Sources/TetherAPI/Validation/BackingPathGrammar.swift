import TetherCore

/// Export backing paths, as written in a request: absolute, at most 4095 bytes (PATH_MAX with
/// its NUL), no control character, no `,` (tgt separates its parameters with it), no `.` or `..`
/// component. Where the path really leads is checked by the agent: canonicalised (symlinks
/// resolved), inside `[target] backing_dirs`, a regular file or a block device.
public enum BackingPathGrammar {
    public static let maximumBytes = 4095

    @discardableResult
    public static func check(_ text: String, field: FieldPath) throws -> String {
        let hint = "give an absolute path inside one of the directories of [target] backing_dirs"
        try TextGrammar.check(text, field: field, maximumBytes: maximumBytes)
        guard text.hasPrefix("/") else {
            throw TetherError.invalidField(field, "\"\(text)\" is not an absolute path", hint: hint)
        }
        if text.contains(",") {
            throw TetherError.invalidField(field, "\"\(text)\" contains \",\", which tgt reads as a parameter separator", hint: hint)
        }
        if text.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) {
            throw TetherError.invalidField(field, "\"\(text)\" has a . or .. component", hint: hint)
        }
        return text
    }

    /// Whether the canonical `path` lies inside one of the canonical `directories` (not equal to one).
    public static func isInside(_ path: String, _ directories: [String]) -> Bool {
        directories.contains { directory in
            let prefix = directory.hasSuffix("/") ? directory : directory + "/"
            return path.hasPrefix(prefix) && path.count > prefix.count
        }
    }
}
