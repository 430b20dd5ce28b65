import Foundation
import Logging
@testable import TetherAgent
import TetherFakes
import Testing
import Synchronization

/// Log lines for journald: `<N>` priorities when stderr is the journal, plain logfmt otherwise.
@Suite struct JournaldLogTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    static func log(_ level: Logger.Level, to destination: LogDestination) -> String {
        let lines = Lines()
        var logger = Logger(label: "test") { label in
            LogfmtLogHandler(label: label, level: .trace, destination: destination) { lines.append($0) }
        }
        logger.logLevel = .trace
        logger.log(level: level, "attach failed", metadata: ["volume": "vol-1", "error": "line one\nline two"])
        return lines.all.joined()
    }

    @Test(arguments: [
        (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func journalLinesStartWithTheirPriority(level: Logger.Level, priority: Int) {
        #expect(level.syslogPriority == priority)
        let line = Self.log(level, to: .journal)
        #expect(line.hasPrefix("<\(priority)>ts="), "\(line)")
        // One event, one line, one journal entry: the metadata's line break is escaped.
        #expect(line.filter { $0 == "\n" }.count == 1 && line.hasSuffix("\n"))
        #expect(line.contains(#"level=\#(level) msg="attach failed" error="line one\nline two" volume=vol-1"#), "\(line)")
    }

    @Test(arguments: Logger.Level.allCases)
    func filesAndTerminalsGetPlainLogfmt(level: Logger.Level) {
        let line = Self.log(level, to: .plain)
        #expect(line.hasPrefix("ts="), "\(line)")
        #expect(line.contains("level=\(level) "))
    }

    /// systemd's JOURNAL_STREAM names the stream's device and inode; only that very file
    /// counts, not another one, and not the same variable inherited past a redirection.
    @Test func journalStreamMustNameThisDescriptor() async throws {
        try await TemporaryDirectory.with(prefix: "jstream") { directory in
            let path = directory.file("stream")
            let other = directory.file("other")
            #expect(FileManager.default.createFile(atPath: path, contents: nil))
            #expect(FileManager.default.createFile(atPath: other, contents: nil))
            let descriptor = open(path, O_RDONLY)
            try #require(descriptor >= 0)
            defer { close(descriptor) }
            var status = stat()
            #expect(stat(path, &status) == 0)
            var otherStatus = stat()
            #expect(stat(other, &otherStatus) == 0)
            let matching = "\(status.st_dev):\(status.st_ino)"
            #expect(LogDestination.of(descriptor: descriptor, journalStream: matching) == .journal)
            #expect(LogDestination.of(descriptor: descriptor, journalStream: "\(otherStatus.st_dev):\(otherStatus.st_ino)") == .plain)
            #expect(LogDestination.of(descriptor: descriptor, journalStream: nil) == .plain)
            for garbage in ["", ":", "\(status.st_dev)", "\(status.st_dev):", "x:\(status.st_ino)", "\(status.st_dev):\(status.st_ino):1", "-1:-1"] {
                #expect(LogDestination.of(descriptor: descriptor, journalStream: garbage) == .plain, "\(garbage)")
            }
            // A closed descriptor (fstat fails) is not the journal either.
            #expect(LogDestination.of(descriptor: -1, journalStream: matching) == .plain)
        }
    }

    @Test func standardErrorIsPlainWithoutTheVariable() {
        #expect(LogDestination.standardError(environment: [:]) == .plain)
    }
}
