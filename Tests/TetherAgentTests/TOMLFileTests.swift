import Foundation
@testable import TetherAgent
import TetherCeph
import TetherCore
import TetherFakes
import TetherLabs
import Testing

/// tether.toml and clusters.d files as other TOML writers produce them, read through TOMLKit.
@Suite struct TOMLFileTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/tomli_w").path

    static func read(_ path: String) throws -> String {
        String(decoding: try #require(FileManager.default.contents(atPath: path)), as: UTF8.self)
    }

    /// The two files as tomli_w wrote them (`generate.py`): every array on several lines with a
    /// trailing comma, `[user.cinder]` headers.
    static func checkTomliW(directory: String) throws {
        let configuration = try AgentConfiguration.parse(try read("\(directory)/tether.toml"), file: "\(directory)/tether.toml")
        #expect(configuration.logLevel == .notice)
        #expect(configuration.hostName == "compute-1" && configuration.ip == "192.0.2.50")
        #expect(configuration.iscsiTimeouts.login == .milliseconds(7500))
        #expect(configuration.multipath)
        #expect(configuration.target.portals.map(\.description) == ["192.0.2.10:3260", "198.51.100.10:3260", "[2001:db8::10]:3260"])
        #expect(configuration.target.backingDirectories == ["/srv/tether", "/var/lib/tether/volumes"])
        #expect(configuration.api.idleTimeout == .seconds(30))
        #expect(configuration.cephDirectory == "/etc/ceph")

        let path = "\(directory)/clusters.d/ceph-a.toml"
        let cluster = try CephClusterFile.parse(try read(path), path: path, registryDirectory: "/etc/tether")
        #expect(cluster.name == "ceph-a")
        #expect(cluster.monitors.count == 2)
        #expect(cluster.users.map(\.name).sorted() == ["cinder", "nova"])
        #expect(cluster.user(named: "cinder")?.secretUUID == UUID(uuidString: "457eb676-33da-42ec-9a8c-9293d545c337"))
        #expect(cluster.defaultUserName == "cinder")
    }

    /// Committed output of tomli_w 1.2.0 (see generate.py): what runs on every machine.
    @Test func tomliWFilesCommittedLoad() throws {
        try Self.checkTomliW(directory: Self.fixtures)
    }

    /// Debian's python3 (python3-tomli-w installs there; a python3 earlier on PATH may lack it).
    static let python = "/usr/bin/python3"

    static var hasTomliW: Bool {
        (try? Lab.run(python, ["-c", "import tomli_w"]).status) == 0
    }

    /// The same files written now by the tomli_w Debian's python3 has (python3-tomli-w, which
    /// scripts/packages.sh installs for the tests): under CI=true it must be there, so this runs.
    @Test(.enabled(if: hasTomliW || Lab.required)) func tomliWFilesWrittenNowLoad() async throws {
        try await TemporaryDirectory.with(prefix: "tomliw") { directory in
            let result = try Lab.run(Self.python, ["\(Self.fixtures)/generate.py", directory.path])
            #expect(result.status == 0, "\(result.output)")
            try Self.checkTomliW(directory: directory.path)
        }
    }

    /// Inline tables, dotted keys, multi-line arrays, literal and multi-line strings, `_` in
    /// numbers: the same configuration as the plain form.
    @Test func everyTOMLFormReadsTheSame() throws {
        let plain = try AgentConfiguration.parse(
            """
            log_level = "debug"
            [node]
            host = "compute-1"
            ip = "192.0.2.50"
            [iscsi]
            connect_timeout = 1000
            [target]
            portals = ["127.0.0.1:3260", "127.0.0.2:3260"]
            backing_dirs = ["/srv/a"]
            """, file: "plain.toml")
        let other = try AgentConfiguration.parse(
            """
            log_level = '''debug'''
            node = { host = "compute-1", ip = '192.0.2.50' }
            iscsi.connect_timeout = 1_000
            "target".portals = [
                "127.0.0.1:3260",  # portal a
                "127.0.0.2:3260",
            ]
            target.backing_dirs = [
              \"\"\"/srv/a\"\"\",
            ]
            """, file: "other.toml")
        #expect(other.logLevel == plain.logLevel)
        #expect(other.hostName == plain.hostName && other.ip == plain.ip)
        #expect(other.iscsiTimeouts.connect == plain.iscsiTimeouts.connect)
        #expect(other.target.portals == plain.target.portals)
        #expect(other.target.backingDirectories == plain.target.backingDirectories)
    }

    /// However a key is written, an unknown one is an error naming the file and the key.
    @Test(arguments: [
        ("node = { host = \"a\", hots = \"b\" }", "unknown key [node] hots"),
        ("node.hots = \"b\"", "unknown key [node] hots"),
        ("[iscsi]\nlogin_timeout = 1\n[iscsi.deep]\nx = 1", "unknown table [iscsi.deep]"),
        ("[[target]]\nportals = []", "unknown key target"),
        ("socket = 1979-05-27T07:32:00Z", "socket must be a string"),
        ("[target]\nportals = [{ host = \"a\" }]", "[target] portals must be a list of strings"),
    ])
    func unknownOrMistypedKeysNameFileAndKey(text: String, mentions: String) {
        let error = #expect(throws: ConfigurationError.self) { try AgentConfiguration.parse(text, file: "t.toml") }
        #expect(error?.file == "t.toml")
        #expect(error?.message.contains(mentions) == true, "\(error?.description ?? "")")
    }

    /// Deep nesting is an error naming the file, not a stack overflow in the agent: toml++ limits
    /// values (arrays, inline tables) to 256 levels; the reader refuses keys of more than 17 dotted
    /// parts before toml++ sees them (toml++ overflowed the stack on 100,000).
    @Test(arguments: [
        "socket = " + String(repeating: "[", count: 100_000),
        "socket = " + String(repeating: "{ a = ", count: 100_000),
        String(repeating: "a.", count: 100_000) + "b = 1",
        "[" + String(repeating: "a.", count: 100_000) + "b]",
        "a = { " + String(repeating: "\"a\" . ", count: 100_000) + "b = 1 }",
        String(repeating: "a.", count: 17) + "b = 1",
    ])
    func deepNestingIsAnError(text: String) {
        let error = #expect(throws: ConfigurationError.self) { try AgentConfiguration.parse(text, file: "t.toml") }
        #expect(error?.file == "t.toml")
    }

    /// Dots in strings, comments and floats are no key: a file full of them loads.
    @Test func dotsOutsideKeysAreNoNesting() throws {
        let portals = (1...40).map { "\"10.0.0.\($0):3260\"" }.joined(separator: ", ")
        let configuration = try AgentConfiguration.parse(
            """
            # a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z
            [iscsi]
            login_timeout = 1.5
            [target]
            portals = [\(portals)]   # 1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19
            """, file: "t.toml")
        #expect(configuration.target.portals.count == 40)
    }

    /// Syntax errors come from toml++ with their line.
    @Test(arguments: [
        ("log_level = \"info\"\n\nsocket = /tmp/x", 3),
        ("[node]\nhost = \"a\"\nhost = \"b\"", 3),
        ("[target]\nportals = [\n  \"a\",\n  \"b\" \"c\",\n]", 4),
        ("socket = \"a\\u0000b\"", 1),
        ("[node]\nhost = \"a\u{0}b\"", 2),
    ])
    func syntaxErrorsNameTheLine(text: String, line: Int) {
        let error = #expect(throws: ConfigurationError.self) { try AgentConfiguration.parse(text, file: "t.toml") }
        #expect(error?.file == "t.toml")
        #expect(error?.line == line, "\(error?.description ?? "")")
    }
}
