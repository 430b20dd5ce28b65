import Foundation
import TetherCore
import Testing

@testable import TetherAgent

/// README's Configuration section names every key tether.toml takes, in its table, and no other.
@Suite struct ReadmeConfigurationTests {
    /// The tether.toml examples of README's Configuration section: table -> the text under it.
    /// The clusters.d example (it has `fsid =`) is another file.
    static func documentedTables() throws -> [String: String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "\n## Configuration\n"))
        let end = readme[start.upperBound...].range(of: "\n## ")?.lowerBound ?? readme.endIndex
        var tables: [String: String] = [:]
        for (index, block) in readme[start.upperBound..<end].components(separatedBy: "```").enumerated() where index % 2 == 1 {
            guard block.hasPrefix("toml"), !block.contains("\nfsid =") else { continue }
            var table = ""
            for line in block.split(separator: "\n").dropFirst() {
                if line.hasPrefix("["), let close = line.firstIndex(of: "]") {
                    table = String(line[line.index(after: line.startIndex)..<close])
                    continue
                }
                tables[table, default: ""] += line + "\n"
            }
        }
        return tables
    }

    @Test func everyKnownKeyIsDocumentedAndEveryDocumentedKeyKnown() throws {
        let tables = try Self.documentedTables()
        let known = AgentConfiguration.Reader.known
        #expect(Set(tables.keys) == Set(known.keys), "README's tables: \(tables.keys.sorted())")
        for (table, keys) in known {
            let text = tables[table] ?? ""
            for key in keys {
                #expect(text.contains(try Regex("\\b\(key)\\b")), "README does not document [\(table)] \(key)")
            }
            // A key written as `key =` at the start of a line, or of a commented-out example.
            let written = try Regex(#"(?m)^#? ?([a-z_]+) = "#)
            for match in text.matches(of: written) {
                let key = String(match.output[1].substring ?? "")
                #expect(keys.contains(key), "README documents [\(table)] \(key), which tetherd refuses as unknown")
            }
        }
    }

    @Test func unknownKeyErrorNamesFileAndKeyAsREADMESays() throws {
        let error = #expect(throws: ConfigurationError.self) {
            try AgentConfiguration.parse("[iscsi]\nlogin_timout = 5\n", file: "tether.toml")
        }
        #expect(error?.description.hasPrefix("tether.toml: unknown key [iscsi] login_timout; known: command_timeout, connect_timeout") == true, "\(error?.description ?? "")")
        let syntax = #expect(throws: ConfigurationError.self) {
            try AgentConfiguration.parse("[iscsi]\nlogin_timeout\n", file: "tether.toml")
        }
        #expect(syntax?.description.hasPrefix("tether.toml:2: ") == true, "\(syntax?.description ?? "")")
    }
}
