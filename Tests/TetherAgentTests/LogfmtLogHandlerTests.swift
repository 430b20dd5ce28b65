@testable import TetherAgent
import Testing

@Suite struct LogfmtLogHandlerTests {
    @Test(arguments: [
        ("vol-1", "vol-1"),
        ("", "\"\""),
        ("a b", "\"a b\""),
        ("k=v", "\"k=v\""),
        ("say \"hi\"", "\"say \\\"hi\\\"\""),
        ("line\nforged=1", "\"line\\nforged=1\""),
        ("carriage\rreturn", "\"carriage\\rreturn\""),
        ("nul\u{0}byte", "\"nul\\u{0}byte\""),
        ("\u{1b}[31mred", "\"\\u{1b}[31mred\""),
        ("sep\u{2028}line", "\"sep\\u{2028}line\""),
        ("back\\slash x", "\"back\\\\slash x\""),
    ])
    func valuesAreQuotedAndEscaped(text: String, expected: String) {
        #expect(LogfmtLogHandler.quote(text) == expected)
    }

    /// Whatever a request puts in a value, one event stays one line.
    @Test func oneEventIsOneLine() {
        let lines = LockedLines()
        var handler = LogfmtLogHandler(label: "t", output: { lines.append($0) })
        handler.logLevel = .info
        var logger = Logging.Logger(label: "t") { _ in handler }
        logger.logLevel = .info
        logger.info("request failed", metadata: ["path": "/v1/a\r\nts=0 level=critical msg=forged\u{85}\u{2029}"])
        let written = lines.all.joined()
        #expect(written.filter { $0.isNewline }.count == 1)
        #expect(written.hasSuffix("\n"))
    }
}

import Foundation
import Logging

final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}
