import TetherCore
import Testing

/// toml++ 3 aborts (an assertion in parse_key) on a table header that starts with neither a
/// bare-key character nor a quote; Tether refuses those before toml++ sees them, and only those.
@Suite struct TOMLHeaderTests {
    @Test(arguments: ["[*cinder]\nx = 1\n", "[[ =x]]\n", "a = 1\n[ #]\n", "[\t.x]\n", "[[[x]]]\n", "["])
    func headersToml11CannotReadAreRefused(text: String) {
        let error = #expect(throws: ConfigurationError.self) { try TOML.parse(text, file: "t.toml") }
        #expect(error?.description.contains("table header") == true, "\(String(describing: error))")
    }

    /// What toml++ skips as whitespace before and inside a header: each of these aborted the
    /// process (the first is what the config fuzz target found: a byte-order mark, `[`, U+FFFD).
    @Test(arguments: [
        "\u{FEFF}[\u{FFFD}", "\u{FEFF}[é]\n", "\u{3000}[é]\n", "[\u{3000}é]\n", "\u{A0}[\u{2003}é]\n", "x = 1\n\u{200B}[é]\n",
        "x = 1\u{2028}[é]\n", "\u{FEFF}[[é]]\n",
    ])
    func headersAfterWhitespaceTomlPlusPlusSkipsAreRefused(text: String) {
        let error = #expect(throws: ConfigurationError.self) { try TOML.parse(text, file: "t.toml") }
        #expect(error?.description.contains("table header") == true, "\(String(describing: error))")
    }

    @Test func aByteOrderMarkBeforeAGoodHeaderStillLoads() throws {
        let document = try TOML.parse("\u{FEFF}[cinder]\nx = 1\n", file: "t.toml")
        #expect(document["cinder"]?["x"] == .integer(1))
    }

    @Test func arraysAndStringsThatLookLikeHeadersStillLoad() throws {
        let text = """
            x = [
              [],
              [ 1 ],
              [[2]],
            ]
            s = \"\"\"
            [*not a header]
            \"\"\"
            [ "quoted name" ]
            k = 1
            [[ list ]]
            n = { a = [1] }
            """
        let document = try TOML.parse(text, file: "t.toml")
        #expect(document["quoted name"]?["k"] == .integer(1))
        #expect(document[""]?["s"] == .string("[*not a header]\n"))
    }
}
