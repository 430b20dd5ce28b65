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
