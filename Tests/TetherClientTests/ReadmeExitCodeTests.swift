import Foundation
import Testing
import TetherCore

@testable import TetherClient

/// README's exit-code table is what `tether` does: every error code in Sources is in it, in the
/// row of the exit its kind gives.
@Suite struct ReadmeExitCodeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Rows of the table under "Exit codes": exit -> the codes in its last column.
    static func table() throws -> [Int32: [String]] {
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "| exit | meaning | error codes |"))
        var rows: [Int32: [String]] = [:]
        for line in readme[start.upperBound...].split(separator: "\n").dropFirst() {
            guard line.hasPrefix("|") else { break }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4, let exit = Int32(cells[1]) else { continue }
            rows[exit] = cells[3].split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
        }
        return rows
    }

    /// Every `rawValue: "..."` an error code is made with in Sources/.
    static func codesInSources() throws -> Set<String> {
        var codes: Set<String> = []
        let sources = root.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(atPath: sources.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") } ?? []
        let pattern = try Regex(#"(?:Self|Code)\(rawValue: "([a-z_.]+)"\)"#)
        for file in files {
            let text = try String(contentsOfFile: sources.appendingPathComponent(file).path, encoding: .utf8)
            for match in text.matches(of: pattern) {
                if let code = match.output[1].substring { codes.insert(String(code)) }
            }
        }
        return codes
    }

    @Test func tableMatchesTheCodesAndTheirExits() throws {
        let table = try Self.table()
        #expect(Set(table.keys) == [0, 1, 2, 3, 4, 5, 6, 7, 64])
        for (exit, codes) in table {
            for code in codes {
                // `usage` is tether's own: ArgumentParser's usage errors exit 64 (ExitCode.validationFailure).
                let expected = code == TetherError.Code.usage.rawValue ? 64 : TetherError.Code(rawValue: code).exitCode
                #expect(expected == exit, "README puts \(code) under exit \(exit); tether exits \(expected)")
            }
        }
        let listed = Set(table.values.joined())
        let sources = try Self.codesInSources()
        #expect(sources.count > 20)
        #expect(sources.subtracting(listed).isEmpty, "codes missing from README's exit table: \(sources.subtracting(listed).sorted())")
        #expect(listed.subtracting(sources).isEmpty, "README lists codes nothing makes: \(listed.subtracting(sources).sorted())")
    }
}
