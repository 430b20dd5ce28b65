import Foundation
import Logging

/// Structured log lines (logfmt) on stderr: `ts=… level=… msg="…" key=value …`.
///
/// Secrets never reach it: they are `Secret` values, which print as `<redacted>`, and
/// connection_info is redacted before it is logged or journaled.
public struct LogfmtLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let output: @Sendable (String) -> Void

    public init(label: String, level: Logger.Level = .info, output: @escaping @Sendable (String) -> Void = LogfmtLogHandler.standardError) {
        self.label = label
        self.logLevel = level
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        var line = "ts=\(Date().formatted(.iso8601.time(includingFractionalSeconds: true).year().month().day())) level=\(event.level) msg=\(Self.quote(event.message.description))"
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(Self.quote(value.description))"
        }
        output(line + "\n")
    }

    static func quote(_ text: String) -> String {
        guard text.isEmpty || text.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data(line.utf8))
    }
}
