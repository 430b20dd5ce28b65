import TetherCore

/// A Ceph client instance as Ceph prints it (`rbd status`, `rbd lock ls`, `osd blocklist ls`,
/// Tether's own refusals): `IP:port/nonce`, the IP an IPv4 address or a bracketed IPv6 one,
/// optionally after a messenger prefix (`v1:`, `v2:`, `any:`), or `IP/nonce` (port 0).
///
/// The nonce is required: it names one client instance, which is what fencing takes away. A bare
/// IP would blocklist every client of that host (this agent's own and other volumes' too), and
/// `profile rbd` refuses it as well.
public enum CephClientAddressGrammar {
    public static let summary = "a client instance as Ceph prints it, IP:PORT/NONCE (e.g. 192.0.2.50:0/3305813894, [2001:db8::5]:0/42)"

    /// The address without its messenger prefix, as the blocklist names it.
    /// - Throws: `invalid_input` naming `field`, what is wrong and the form to use.
    public static func check(_ text: String, field: FieldPath) throws -> String {
        func refuse(_ problem: String) -> TetherError {
            TetherError.invalidField(field, problem, hint: "give \(summary); tether attach's refusal and `rbd status` name it")
        }
        guard !text.isEmpty, text.utf8.count <= 80 else { throw refuse(text.isEmpty ? "is empty" : "is longer than 80 bytes") }
        guard text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7f }) else {
            throw refuse("holds a space, control or non-ASCII character")
        }
        var rest = Substring(text)
        for prefix in ["v1:", "v2:", "any:"] where rest.hasPrefix(prefix) { rest = rest.dropFirst(prefix.count) }
        guard let slash = rest.lastIndex(of: "/") else {
            throw refuse("\"\(text)\" has no /NONCE: it names a whole host, not one client instance")
        }
        let nonce = rest[rest.index(after: slash)...]
        guard !nonce.isEmpty, nonce.count <= 10, nonce.allSatisfy(\.isASCIIDigit), let value = UInt64(nonce), value <= UInt64(UInt32.max) else {
            throw refuse("the nonce \"\(nonce)\" is not a number 0-\(UInt32.max)")
        }
        let endpoint = rest[..<slash]
        let host: Substring
        if endpoint.hasPrefix("[") {
            guard let close = endpoint.firstIndex(of: "]") else { throw refuse("\"\(endpoint)\" opens [ without closing it") }
            host = endpoint[endpoint.index(after: endpoint.startIndex)..<close]
            let after = endpoint[endpoint.index(after: close)...]
            guard AddressGrammar.isIPv6(host) else { throw refuse("\"\(host)\" is not an IPv6 address") }
            if !after.isEmpty { try port(after, refuse) }
        } else if let colon = endpoint.firstIndex(of: ":") {
            host = endpoint[..<colon]
            try port(endpoint[colon...], refuse)
            guard AddressGrammar.isIPv4(host) else { throw refuse("\"\(host)\" is not an IPv4 address (write IPv6 as [address])") }
        } else {
            host = endpoint
            guard AddressGrammar.isIPv4(host) else { throw refuse("\"\(host)\" is not an IPv4 address (write IPv6 as [address])") }
        }
        return String(rest)
    }

    private static func port(_ text: Substring, _ refuse: (String) -> TetherError) throws {
        let digits = text.dropFirst()
        guard text.first == ":", !digits.isEmpty, digits.count <= 5, digits.allSatisfy(\.isASCIIDigit), let value = Int(digits), value <= 65535 else {
            throw refuse("the port \"\(text.dropFirst())\" is not a number 0-65535")
        }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
