import TetherAPI
import TetherCore
import Testing

/// Each grammar with values it must take and values it must refuse, the refusal naming the field.
@Suite struct GrammarTests {
    static func refusal(_ body: () throws -> Void) -> TetherError? {
        #expect(throws: TetherError.self) { try body() }
    }

    @Test(arguments: ["vol-1", "9b4c1e2a-7d3f-4b8e-a1c2-0f6e5d4c3b2a", "volume-9b4c1e2a", "a", "A.b_c-d", String(repeating: "x", count: 128), "..."])
    func identifiersTaken(text: String) throws {
        #expect(try IdentifierGrammar.volumeID.check(text, field: "volume_id") == text)
    }

    @Test(arguments: [
        "", ".", "..", "../etc", "a/b", "vol\0x", "vol\nx", "vol x", "vol:1", "völ", String(repeating: "x", count: 129),
        String(repeating: "x", count: 10_000), "a\u{2028}b",
    ])
    func identifiersRefused(text: String) {
        let error = Self.refusal { try IdentifierGrammar.volumeID.check(text, field: "volume.id") }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.hasPrefix("volume.id: ") == true)
        #expect(error?.hint?.contains("A-Z a-z 0-9") == true)
        // The message never carries the raw control character back.
        #expect(error?.message.contains("\0") == false && error?.message.contains("\n") == false)
    }

    @Test(arguments: [
        "iqn.1993-08.org.debian:01:compute-1", "iqn.2010-10.org.openstack:volume-9b4c1e2a-7d3f", "iqn.2026-11.io.tether",
        "IQN.1991-05.COM.MICROSOFT:HOST", "eui.0123456789ABCDEF", "naa.52004567BA64678D", "naa.6001405ab3c4d5e6f7a8b9c0d1e2f3a4",
        "iqn.1992-08.com.netapp:sn.4f2c:vs.3",
    ])
    func iscsiNamesTaken(name: String) throws {
        #expect(try ISCSINameGrammar.check(name, field: "connector.initiator") == name)
    }

    @Test(arguments: [
        "", "iqn.test:a", "iqn.2026-13.io.x", "iqn.26-11.io.x", "iqn.2026-11.", "iqn.2026-11.io.x:a\nALL", "iqn.2026-11.io.x:a\0b",
        "iqn.2026-11.io.x:a b", "iqn.2026-11.io.x:a,b", "iqn.2026-11.io.x:a_b", "eui.0123", "eui.0123456789abcdeg", "naa.1234",
        "ALL", "iqn.2026-11.io." + String(repeating: "x", count: 220),
    ])
    func iscsiNamesRefused(name: String) {
        let error = Self.refusal { try ISCSINameGrammar.check(name, field: "connector.initiator") }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.hasPrefix("connector.initiator: ") == true)
        #expect(error?.hint?.contains("RFC 3720") == true)
    }

    @Test(arguments: [
        ("192.0.2.10:3260", "192.0.2.10", 3260), ("192.0.2.10", "192.0.2.10", 3260), ("[2001:db8::1]:3261", "2001:db8::1", 3261),
        ("2001:db8::1", "2001:db8::1", 3260), ("target.example.org:860", "target.example.org", 860), ("10.0.0.1:3260,1", "10.0.0.1", 3260),
        ("127.0.0.1:65535", "127.0.0.1", 65535), ("127.0.0.1:1", "127.0.0.1", 1),
    ])
    func portalsTaken(text: String, host: String, port: Int) throws {
        let portal = try AddressGrammar.checkPortal(text, field: "target_portal")
        #expect(portal.host == host && portal.port == port)
    }

    @Test(arguments: [
        "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:4294967296", "127.0.0.1:9223372036854775808", "127.0.0.1:+80",
        "127.0.0.1: 80", "127.0.0.1:", ":3260", "[2001:db8::1", "[2001:db8::1]x", "[not-v6]:3260", "host_name:3260", "a..b:3260",
        "127.0.0.1\n:3260", "-bad.example:3260", "10.0.0.1:3260,x",
    ])
    func portalsRefused(text: String) {
        let error = Self.refusal { _ = try AddressGrammar.checkPortal(text, field: "connection_info.data.target_portal") }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.hasPrefix("connection_info.data.target_portal: ") == true)
    }

    @Test(arguments: [
        (JSONValue.int(0), Int64(0)), (.int(65535), 65535), (.string("7"), 7), (.string(" 12 "), 12), (.double(3), 3),
    ])
    func lunsTaken(value: JSONValue, expected: Int64) throws {
        #expect(try NumberGrammar.check(value, field: "target_lun", range: NumberGrammar.lun) == expected)
    }

    /// The limits of every numeric type a LUN, a port or a size goes through.
    @Test(arguments: [
        JSONValue.int(-1), .int(65536), .int(1 << 31), .int(1 << 32), .int(Int64.max), .int(Int64.min), .double(1.5), .double(1e300),
        .double(18_446_744_073_709_551_616), .double(.infinity), .double(.nan), .string("-1"), .string("2147483648"),
        .string("99999999999999999999999"), .string("0x10"), .string("1e3"), .string(""), .bool(true), .null, .array([1]),
    ])
    func lunsRefused(value: JSONValue) {
        let error = Self.refusal { _ = try NumberGrammar.check(value, field: "connection_info.data.target_lun", range: NumberGrammar.lun) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.hasPrefix("connection_info.data.target_lun: ") == true)
        #expect(error?.hint?.contains("0-65535") == true)
    }

    @Test(arguments: [JSONValue.int(0), .int(65536), .int(Int64.max), .string("65536"), .int(-1)])
    func portsRefused(value: JSONValue) {
        let error = Self.refusal { _ = try NumberGrammar.check(value, field: "ports[0]", range: NumberGrammar.port) }
        #expect(error?.code == .invalidInput)
    }

    @Test(arguments: [JSONValue.int(0), .int(511), .int(-1), .int(Int64.max), .double(18_446_744_073_709_551_615), .int((1 << 50) + 512)])
    func sizesRefused(value: JSONValue) {
        let error = Self.refusal { _ = try NumberGrammar.check(value, field: "volume.size_bytes", range: NumberGrammar.sizeBytes) }
        #expect(error?.code == .invalidInput)
    }

    @Test func chapWithinThePeersLimits() throws {
        try CHAPGrammar.checkUser("tether-0123456789abcdef", field: "auth_username")
        try CHAPGrammar.checkSecret(String(repeating: "s", count: 255), field: "auth_password")
        for bad in ["", "a b", "a,b", "a\nb", "a\0b", String(repeating: "s", count: 256), "é"] {
            let error = Self.refusal { try CHAPGrammar.checkSecret(bad, field: "connection_info.data.auth_password") }
            #expect(error?.code == .invalidInput)
            #expect(error?.hint?.contains("tgt") == true && error?.hint?.contains("libiscsi") == true)
            // The secret is never echoed.
            if bad.count > 2 { #expect(error?.message.contains(bad) == false) }
        }
        for bad in ["u<x", "u'x", "u\"x", "u&x"] {
            #expect(Self.refusal { try CHAPGrammar.checkUser(bad, field: "auth_username") }?.code == .invalidInput)
        }
    }

    @Test func backingPaths() throws {
        try BackingPathGrammar.check("/srv/tether/vol-1.img", field: "volume.path")
        for bad in ["", "relative", "/srv/a,b", "/srv/../etc/shadow", "/srv/./x", "/srv/a\0b", "/srv/a\nb", "/" + String(repeating: "a", count: 4095)] {
            let error = Self.refusal { try BackingPathGrammar.check(bad, field: "volume.path") }
            #expect(error?.code == .invalidInput)
            #expect(error?.message.hasPrefix("volume.path: ") == true)
        }
        #expect(BackingPathGrammar.isInside("/srv/tether/a.img", ["/srv/tether"]))
        #expect(!BackingPathGrammar.isInside("/srv/tether", ["/srv/tether"]))
        #expect(!BackingPathGrammar.isInside("/srv/tether-other/a.img", ["/srv/tether"]))
        #expect(!BackingPathGrammar.isInside("/etc/shadow", ["/srv/tether/"]))
    }

    @Test func flagsAreStrict() throws {
        #expect(try FlagGrammar.check("true", field: .queryParameter("force")) == true)
        #expect(try FlagGrammar.check("0", field: .queryParameter("force")) == false)
        #expect(try FlagGrammar.check(nil, field: .queryParameter("force")) == nil)
        let error = Self.refusal { _ = try FlagGrammar.check("yes-please", field: .queryParameter("force")) }
        #expect(error?.message.hasPrefix("query parameter force: ") == true)
    }

    @Test func uuids() throws {
        try UUIDGrammar.check("457eb676-33da-42ec-9a8c-9293d545c337", field: "fsid")
        for bad in ["", "457eb676", "457eb676-33da-42ec-9a8c-9293d545c33g", "457eb676-33da-42ec-9a8c-9293d545c337\n"] {
            #expect(Self.refusal { try UUIDGrammar.check(bad, field: "fsid") }?.code == .invalidInput)
        }
    }

    @Test func hosts() throws {
        #expect(try AddressGrammar.checkHost("[2001:db8::1]", field: "hosts[0]") == "2001:db8::1")
        #expect(try AddressGrammar.checkHost("mon1.example.org", field: "hosts[0]") == "mon1.example.org")
        for bad in ["", "mon 1", "mon\n1", "1.2.3.4:6789", "[1.2.3.4]"] {
            #expect(Self.refusal { try AddressGrammar.checkHost(bad, field: "hosts[0]") }?.code == .invalidInput)
        }
    }
}
