internal import TOMLKit

/// Tether's configuration files (tether.toml, clusters.d/*.toml) read through TOMLKit (toml++):
/// all of TOML 1.0 — multi-line arrays, inline tables, dotted keys, every string form, dates —
/// so a file a deployment tool writes with any TOML library loads.
///
/// The readers take a flat view: tables by their dotted name, each a map of keys to values.
/// `[user.cinder]`, `user.cinder.key_file = …` and `user = { cinder = { key_file = … } }` are
/// the same table `user.cinder`. Which tables and keys mean something is the readers' business:
/// they reject the rest, naming the file and the key.
public enum TOML {
    public indirect enum Value: Sendable, Hashable {
        case string(String)
        case integer(Int)
        case float(Double)
        case boolean(Bool)
        case array([Value])
        /// A table inside an array (`[[name]]`, or an inline table as an item); no key of
        /// Tether's takes one, so readers report it as the wrong type.
        case table([String: Value])
        /// An offset or local date-time, date or time, as toml++ prints it; no key of Tether's
        /// takes one either.
        case dateTime(String)
    }

    /// Tables by name ("" for the top level), each a map of keys to values.
    public typealias Document = [String: [String: Value]]

    /// - Throws: `ConfigurationError` with the file, and the line and column of a syntax error.
    public static func parse(_ text: String, file: String = "<config>") throws -> Document {
        try rejectNUL(text, file: file)
        try prescan(text, file: file)
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationError(
                file: file, line: error.source.begin.line, message: "\(error.description) (column \(error.source.begin.column))")
        }
        var document: Document = ["": [:]]
        try flatten(root, name: "", depth: 0, into: &document, file: file)
        return document
    }

    /// toml++ bounds the nesting of values (256) but not of tables: `a.a.a…a = 1` nests one table
    /// per dot. Tether's files nest two; a file nesting more than this is refused before the
    /// recursion below can exhaust a thread's stack.
    static let maximumTableDepth = 16

    /// toml++ reads a C string and TOMLKit hands strings back as C strings: a NUL would cut the
    /// file, or a value, short without a word. A file with one is refused instead.
    private static func rejectNUL(_ text: String, file: String) throws {
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.contains("\0") || line.contains("\\u0000") || line.contains("\\U00000000") {
                throw ConfigurationError(file: file, line: index + 1, message: "a NUL character is not allowed in a configuration file")
            }
        }
    }

    /// What toml++ 3 cannot be given, found by one pass over the text (strings and comments skipped):
    /// - a dotted key of more parts than any table Tether reads may nest: toml++ recurses once per
    ///   part (`a.a.a…` 100,000 deep overflows the stack); a float's one dot is no chain;
    /// - a table header whose name starts with neither a bare-key character nor a quote
    ///   (`[*x]`, `[[ =x]]`): toml++'s `parse_table_header` hands it to `parse_key`, whose
    ///   assertion aborts the process (found by the config fuzz target). A header is a `[` first
    ///   on its line outside any array or inline table a value opened; "first" and "starts" skip
    ///   what toml++ skips as whitespace, which is more than TOML's space and tab (a byte-order
    ///   mark before `[é]` at the top of a file aborted it too: the fuzz target again).
    private static func prescan(_ text: String, file: String) throws {
        let scalars = Array(text.unicodeScalars)
        var index = 0
        var line = 1
        var dots = 0
        func at(_ offset: Int) -> Unicode.Scalar? { index + offset < scalars.count ? scalars[index + offset] : nil }
        /// Skips a string starting at `index`; counts its line breaks.
        func skipString(_ quote: Unicode.Scalar) {
            let multiLine = at(1) == quote && at(2) == quote
            index += multiLine ? 3 : 1
            while index < scalars.count {
                let scalar = scalars[index]
                if scalar == "\n" {
                    // An unterminated one-line string ends at the line break; toml++ reports it.
                    if !multiLine { return }
                    line += 1
                } else if scalar == "\\" && quote == "\"" {
                    index += 1
                    if at(0) == "\n" { line += 1 }
                } else if scalar == quote && (!multiLine || (at(1) == quote && at(2) == quote)) {
                    index += multiLine ? 3 : 1
                    return
                }
                index += 1
            }
        }
        var depth = 0
        var lineStart = true
        var inHeader = false
        func isBareKey(_ scalar: Unicode.Scalar?) -> Bool {
            guard let scalar else { return false }
            return ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "-"
        }
        while index < scalars.count {
            let scalar = scalars[index]
            let startsLine = lineStart
            if Self.isVerticalSpace(scalar) {
                lineStart = true
            } else if !Self.isHorizontalSpace(scalar) {
                lineStart = false
            }
            switch scalar {
            case "[" where startsLine && depth == 0:
                var next = index + 1
                if next < scalars.count, scalars[next] == "[" { next += 1 }
                while next < scalars.count, Self.isHorizontalSpace(scalars[next]) { next += 1 }
                let first = next < scalars.count ? scalars[next] : nil
                guard isBareKey(first) || first == "\"" || first == "'" || first == "]" else {
                    throw ConfigurationError(file: file, line: line, message: "a table header must start with a name (letters, digits, _ or -) or a quoted name")
                }
                inHeader = true
                dots = 0
            case "[", "{":
                if !inHeader { depth += 1 }
                dots = 0
            case "]", "}":
                if !inHeader { depth = max(0, depth - 1) }
                dots = 0
            case "\"", "'":
                skipString(scalar)
                continue
            case "#":
                while index < scalars.count, scalars[index] != "\n" { index += 1 }
                continue
            case ".":
                dots += 1
                guard dots <= maximumTableDepth else {
                    throw ConfigurationError(file: file, line: line, message: "a key of more than \(maximumTableDepth + 1) dotted parts")
                }
            case "\n":
                line += 1
                dots = 0
                lineStart = true
                inHeader = false
            case " ", "\t", "\r", "_", "-", "a"..."z", "A"..."Z", "0"..."9":
                break
            default:
                dots = 0
            }
            index += 1
        }
    }

    /// toml++ 3's horizontal whitespace (`is_horizontal_whitespace`): space, tab, and the Unicode
    /// spaces it also skips, the byte-order mark among them.
    static func isHorizontalSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x20, 0xA0, 0x1680, 0x180E, 0x2000...0x200B, 0x202F, 0x205F...0x2060, 0x3000, 0xFEFF: true
        default: false
        }
    }

    /// toml++ 3's vertical whitespace (`is_vertical_whitespace`): LF, VT, FF, CR, NEL and the
    /// Unicode line and paragraph separators.
    static func isVerticalSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0A...0x0D, 0x85, 0x2028...0x2029: true
        default: false
        }
    }

    /// Values of a table go to `document[name]`; its sub-tables, however they were written,
    /// recurse under `name.key`. A table that holds only sub-tables (`user` of `[user.cinder]`)
    /// gets no entry of its own; an empty one (`[multipath]` alone) does, so readers see it.
    private static func flatten(_ table: TOMLTable, name: String, depth: Int, into document: inout Document, file: String) throws {
        var values: [String: Value] = [:]
        var hasSubtables = false
        for (key, item) in table {
            if item.type == .table, let subtable = item.table {
                hasSubtables = true
                guard depth < maximumTableDepth else {
                    throw ConfigurationError(file: file, message: "tables nest deeper than \(maximumTableDepth) levels (under [\(name)])")
                }
                try flatten(subtable, name: name.isEmpty ? key : "\(name).\(key)", depth: depth + 1, into: &document, file: file)
            } else {
                values[key] = value(item)
            }
        }
        guard !values.isEmpty || !hasSubtables || name.isEmpty else { return }
        // `[user."a.b"]` and `[user.a.b]` flatten to one name; both at once are ambiguous.
        if let existing = document[name], !name.isEmpty || !existing.isEmpty {
            throw ConfigurationError(file: file, message: "table [\(name)] is defined twice (once with a quoted dotted key)")
        }
        document[name] = values
    }

    private static func value(_ item: any TOMLValueConvertible) -> Value {
        switch item.type {
        case .string: .string(item.string ?? "")
        case .int: .integer(item.int ?? 0)
        case .double: .float(item.double ?? 0)
        case .bool: .boolean(item.bool ?? false)
        case .array:
            .array((item.array.map { Array($0) } ?? []).map { value($0) })
        case .table:
            .table(Dictionary((item.table.map { Array($0) } ?? []).map { ($0.0, value($0.1)) }, uniquingKeysWith: { _, last in last }))
        case .date, .time, .dateTime: .dateTime(item.debugDescription)
        }
    }
}

/// A configuration file that cannot be read: which file, which line (when the parser knows
/// it), what is wrong.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int?
    public var message: String

    public init(file: String, line: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)"
    }
}
