import Foundation
import Logging

/// Structured log lines (logfmt) on stderr: `ts=… level=… msg="…" key=value …`. When stderr is
/// the journal, each line starts with its syslog priority (`<3>ts=… level=error …`), which
/// journald strips and stores as the entry's PRIORITY (sd-daemon(3)); files and terminals get
/// plain logfmt.
///
/// Secrets never reach it: they are `Secret` values, which print as `<redacted>`, and
/// connection_info is redacted before it is logged or journaled.
public struct LogfmtLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let destination: LogDestination
    let output: @Sendable (String) -> Void

    public init(
        label: String, level: Logger.Level = .info, destination: LogDestination = .plain,
        output: @escaping @Sendable (String) -> Void = LogfmtLogHandler.standardError
    ) {
        self.label = label
        self.logLevel = level
        self.destination = destination
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        var line = destination == .journal ? "<\(event.level.syslogPriority)>" : ""
        line += "ts=\(Date().formatted(.iso8601.time(includingFractionalSeconds: true).year().month().day())) level=\(event.level) msg=\(Self.quote(event.message.description))"
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(Self.quote(value.description))"
        }
        output(line + "\n")
    }

    /// A logfmt value: bare when it is safe, else quoted with `\\`, `\"` and every control or
    /// line-breaking character escaped, so a value from a request (a path, a volume id) can never
    /// start a forged line or smuggle terminal escapes into the log.
    static func quote(_ text: String) -> String {
        let needsQuotes = text.unicodeScalars.contains { $0 == " " || $0 == "\"" || $0 == "=" || Self.isControl($0) }
        guard text.isEmpty || needsQuotes else { return text }
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": quoted += "\\\\"
            case "\"": quoted += "\\\""
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            case _ where Self.isControl(scalar): quoted += "\\u{\(String(scalar.value, radix: 16))}"
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }

    /// C0, DEL, C1, and the Unicode line and paragraph separators.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data(line.utf8))
    }
}

extension Logger.Level {
    /// The syslog priority journald files a line of this level under (sd-daemon(3): SD_DEBUG
    /// 7 … SD_CRIT 2). swift-log has no alert or emergency.
    public var syslogPriority: Int {
        switch self {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
