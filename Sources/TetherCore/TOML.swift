/// A reader for the TOML Tether's configuration files use: `[table]` headers, `key = value`
/// with strings (basic and literal), integers, floats, booleans and arrays of those, and comments.
///
/// Tether's files are written by people and deployment tools; anything outside this subset
/// (inline tables, dates, multi-line strings) is an error with its line number, never ignored.
public enum TOML {
    public indirect enum Value: Sendable, Hashable {
        case string(String)
        case integer(Int)
        case float(Double)
        case boolean(Bool)
        case array([Value])
    }

    /// Tables by name ("" for the top level), each a map of keys to values.
    public typealias Document = [String: [String: Value]]

    public static func parse(_ text: String, file: String = "<config>") throws -> Document {
        var document: Document = ["": [:]]
        var table = ""
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            func fail(_ message: String) -> any Error {
                ConfigurationError(file: file, line: lineNumber, message: message)
            }
            var scanner = Scanner(Substring(rawLine))
            scanner.skipSpaces()
            if scanner.atEndOrComment { continue }
            if scanner.peek == "[" {
                scanner.advance()
                let name = scanner.take { $0 != "]" }.trimmed
                guard scanner.peek == "]", !name.isEmpty, !name.hasPrefix("[") else {
                    throw fail("a table header must look like [name]")
                }
                scanner.advance()
                scanner.skipSpaces()
                guard scanner.atEndOrComment else { throw fail("text after the table header") }
                table = String(name)
                guard document[table] == nil else { throw fail("table [\(table)] appears twice") }
                document[table] = [:]
                continue
            }
            let key = scanner.take { $0 != "=" && $0 != "#" }.trimmed
            guard scanner.peek == "=", !key.isEmpty else { throw fail("expected key = value") }
            guard key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw fail("key \"\(key)\" has characters outside A-Z a-z 0-9 _ -")
            }
            scanner.advance()
            scanner.skipSpaces()
            let value: Value
            do {
                value = try scanner.value()
            } catch {
                throw fail(error.message)
            }
            scanner.skipSpaces()
            guard scanner.atEndOrComment else { throw fail("text after the value of \(key)") }
            guard document[table]?[String(key)] == nil else { throw fail("key \(key) appears twice") }
            document[table, default: [:]][String(key)] = value
        }
        return document
    }

    struct ParseFailure: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    private struct Scanner {
        var text: Substring
        init(_ text: Substring) { self.text = text }

        var peek: Character? { text.first }
        var atEndOrComment: Bool { text.isEmpty || text.first == "#" || text.allSatisfy { $0 == "\r" } }
        mutating func advance() { text.removeFirst() }
        mutating func skipSpaces() { while let c = text.first, c == " " || c == "\t" || c == "\r" { text.removeFirst() } }
        mutating func take(while predicate: (Character) -> Bool) -> Substring {
            let taken = text.prefix(while: predicate)
            text.removeFirst(taken.count)
            return taken
        }

        mutating func value() throws(ParseFailure) -> Value {
            switch peek {
            case "\"": return .string(try basicString())
            case "'":
                advance()
                let body = take { $0 != "'" }
                guard peek == "'" else { throw ParseFailure("unterminated string") }
                advance()
                return .string(String(body))
            case "[":
                advance()
                var items: [Value] = []
                while true {
                    skipSpaces()
                    if peek == "]" { advance(); return .array(items) }
                    items.append(try value())
                    skipSpaces()
                    if peek == "," { advance(); continue }
                    guard peek == "]" else { throw ParseFailure("expected , or ] in an array (arrays stay on one line)") }
                }
            default:
                let word = take { !" \t,]#\r".contains($0) }
                switch word {
                case "true": return .boolean(true)
                case "false": return .boolean(false)
                case "": throw ParseFailure("missing value")
                default:
                    let digits = word.replacingOccurrences("_")
                    if let integer = Int(digits) { return .integer(integer) }
                    if let float = Double(digits) { return .float(float) }
                    throw ParseFailure("\"\(word)\" is not a string, number, boolean or array (quote strings)")
                }
            }
        }

        mutating func basicString() throws(ParseFailure) -> String {
            advance()
            var result = ""
            while let c = peek {
                advance()
                switch c {
                case "\"": return result
                case "\\":
                    guard let escaped = peek else { throw ParseFailure("unterminated escape") }
                    advance()
                    switch escaped {
                    case "n": result.append("\n")
                    case "t": result.append("\t")
                    case "\"": result.append("\"")
                    case "\\": result.append("\\")
                    default: throw ParseFailure("unsupported escape \\\(escaped)")
                    }
                default: result.append(c)
                }
            }
            throw ParseFailure("unterminated string")
        }
    }
}

extension Substring {
    fileprivate var trimmed: Substring {
        var slice = self
        while let c = slice.first, c == " " || c == "\t" { slice.removeFirst() }
        while let c = slice.last, c == " " || c == "\t" { slice.removeLast() }
        return slice
    }

    fileprivate func replacingOccurrences(_ character: Character) -> String {
        String(filter { $0 != character })
    }
}

/// A configuration file that cannot be read: which file, which line, what is wrong.
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
