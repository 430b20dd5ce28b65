import Foundation
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// Hosts and portals: an IPv4 address, an IPv6 address (in brackets when a port follows), or a
/// DNS name (labels of 1-63 letters, digits and `-`, at most 253 bytes); ports 1-65535.
///
/// Portals are `host[:port][,tpgt]` as Cinder and open-iscsi write them; without a port, 3260
/// (iSCSI's registered port, which iscsiadm and libiscsi assume too).
public enum AddressGrammar {
    public static let portRange: ClosedRange<Int64> = 1...65535
    public static let portalSummary = "host:port with an IPv4 address, [IPv6] or a DNS name, and a port 1-65535"

    public enum HostKind: Sendable { case ipv4, ipv6, dnsName }

    /// What kind of host `text` is, nil when none.
    public static func hostKind(_ text: Substring) -> HostKind? {
        if isIPv4(text) { return .ipv4 }
        if text.contains(":") { return isIPv6(text) ? .ipv6 : nil }
        return isDNSName(text) ? .dnsName : nil
    }

    static func isIPv4(_ text: Substring) -> Bool {
        var address = in_addr()
        return text.allSatisfy { $0 == "." || ($0.isASCII && $0.isNumber) } && inet_pton(AF_INET, String(text), &address) == 1
    }

    static func isIPv6(_ text: Substring) -> Bool {
        var address = in6_addr()
        return text.utf8.count <= 45 && inet_pton(AF_INET6, String(text), &address) == 1
    }

    static func isDNSName(_ text: Substring) -> Bool {
        let name = text.hasSuffix(".") ? text.dropLast() : text
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            (1...63).contains(label.utf8.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        }
    }

    /// Checks a bare host (an RBD monitor, a connector's ip) and returns it.
    @discardableResult
    public static func checkHost(_ text: String, field: FieldPath) throws -> String {
        try TextGrammar.check(text, field: field, maximumBytes: 253)
        let bracketed = text.hasPrefix("[") && text.hasSuffix("]")
        let bare = bracketed ? text.dropFirst().dropLast() : Substring(text)
        guard let kind = hostKind(bare), !bracketed || kind == .ipv6 else {
            throw TetherError.invalidField(field, "\"\(text)\" is not an IPv4 or IPv6 address or a DNS name", hint: "e.g. 192.0.2.10, 2001:db8::10 or mon1.example.org")
        }
        return String(bare)
    }

    /// Checks a port given as text (digits only, so "+80" or " 80" are refused) and returns it.
    public static func checkPort(_ text: Substring, field: FieldPath) throws -> Int {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(text), portRange.contains(Int64(port)) else {
            let shown = text.count > 20 ? "\(text.prefix(20))..." : String(text)
            throw TetherError.invalidField(field, "port \"\(shown)\" is not in 1-65535", hint: "write the port as a number 1-65535, e.g. 3260")
        }
        return port
    }

    /// Checks a portal and returns it parsed.
    /// - Throws: `invalid_input` naming `field`: a bad host, a port out of range, control characters.
    public static func checkPortal(_ text: String, field: FieldPath, defaultPort: Int = 3260) throws -> Portal {
        try TextGrammar.check(text, field: field, maximumBytes: 300)
        let hint = "write a portal as \(portalSummary), e.g. 192.0.2.10:3260 or [2001:db8::10]:3260"
        var rest = Substring(text)
        while rest.first == " " { rest.removeFirst() }
        while rest.last == " " { rest.removeLast() }
        // open-iscsi's "host:port,tpgt": the portal group tag is not part of the address.
        if let comma = rest.lastIndex(of: ",") {
            let tag = rest[rest.index(after: comma)...]
            guard !tag.isEmpty, tag.count <= 5, tag.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(tag), value <= 65535 else {
                throw TetherError.invalidField(field, "\"\(text)\" has a portal group tag that is not a number 0-65535", hint: hint)
            }
            rest = rest[..<comma]
        }
        var host: Substring
        var port = defaultPort
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw TetherError.invalidField(field, "\"\(text)\" has an unclosed IPv6 bracket", hint: hint)
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                port = try checkPort(after.dropFirst(), field: field)
            } else if !after.isEmpty {
                throw TetherError.invalidField(field, "\"\(text)\" has text after the IPv6 address", hint: hint)
            }
            guard isIPv6(host) else {
                throw TetherError.invalidField(field, "\"\(host)\" in brackets is not an IPv6 address", hint: hint)
            }
        } else if rest.filter({ $0 == ":" }).count == 1, let colon = rest.firstIndex(of: ":") {
            host = rest[..<colon]
            port = try checkPort(rest[rest.index(after: colon)...], field: field)
        } else {
            host = rest
        }
        guard !host.isEmpty else {
            throw TetherError.invalidField(field, "\"\(text)\" has no host", hint: hint)
        }
        guard hostKind(host) != nil else {
            throw TetherError.invalidField(field, "\"\(host)\" is not an IPv4 or IPv6 address or a DNS name", hint: hint)
        }
        return Portal(host: String(host), port: port)
    }
}
