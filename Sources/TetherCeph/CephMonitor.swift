import TetherCore

/// One Ceph monitor: one address, or a v2 and a v1 address as `ceph mon dump` lists them.
///
/// Renders in Ceph's `mon host` syntax: a pair is bracketed (`[v2:h:3300,v1:h:6789]`) so Ceph
/// sees one monitor with two addresses, not two monitors.
public struct CephMonitor: Sendable, Hashable, CustomStringConvertible {
    /// One or two addresses; two only as one v2 and one v1, in the order written.
    public let addresses: [CephMonitorAddress]

    /// - Throws: `invalid_input` unless `addresses` is one address, or one v2 and one v1 address.
    public init(_ addresses: [CephMonitorAddress]) throws {
        let kinds = addresses.map(\.messenger)
        guard kinds.count == 1 || kinds == [.v2, .v1] || kinds == [.v1, .v2] else {
            throw TetherError.invalidInput(
                "a monitor has one address, or one v2 and one v1 address; got \(addresses.map(\.description).joined(separator: ","))",
                hint: CephMonitorAddress.monitorHint)
        }
        self.addresses = addresses
    }

    /// A monitor with a v2 and/or a v1 address (v2 first, as Ceph lists them).
    public init(v2: Portal? = nil, v1: Portal? = nil) throws {
        try self.init([v2.map { CephMonitorAddress(.v2, $0) }, v1.map { CephMonitorAddress(.v1, $0) }].compactMap { $0 })
    }

    public var v2: Portal? { addresses.first { $0.messenger == .v2 }?.portal }
    public var v1: Portal? { addresses.first { $0.messenger == .v1 }?.portal }
    public var portals: [Portal] { addresses.map(\.portal) }

    public var description: String {
        addresses.count == 1 ? addresses[0].description : "[\(addresses.map(\.description).joined(separator: ","))]"
    }

    /// The `mon host` value of a conf file.
    public static func monHost(_ monitors: [CephMonitor]) -> String {
        monitors.map(\.description).joined(separator: ",")
    }

    /// Reads monitors from `mon_host` entries, each in Ceph's own syntax (one entry may itself be a
    /// whole `mon host` line: addresses separated by `,`, `;` or spaces, bracketed lists).
    ///
    /// A bracketed list is one monitor. A v2 address followed directly by a v1 address on the same
    /// host (or the reverse), both unbracketed, is also one monitor: that is how people copy the
    /// output of `ceph mon dump` into a list.
    /// - Throws: `invalid_input` naming the entry that is wrong.
    public static func parse(_ entries: [String]) throws -> [CephMonitor] {
        var monitors: [CephMonitor] = []
        var lastWasLoose = false
        for entry in entries {
            for token in tokens(of: entry) {
                if let inner = vectorBody(token) {
                    var addresses: [CephMonitorAddress] = []
                    for item in inner.split(separator: ",", omittingEmptySubsequences: false) {
                        let parsed = try CephMonitorAddress.parse(item)
                        guard item.hasPrefix("v1:") || item.hasPrefix("v2:"), parsed.count == 1 else {
                            throw TetherError.invalidInput("monitor \"\(token)\": inside [...] write every address as v2:host:port or v1:host:port", hint: CephMonitorAddress.monitorHint)
                        }
                        addresses += parsed
                    }
                    monitors.append(try CephMonitor(addresses))
                    lastWasLoose = false
                    continue
                }
                let parsed = try CephMonitorAddress.parse(token)
                if parsed.count == 1, lastWasLoose, let previous = monitors.last, previous.addresses.count == 1,
                    let merged = pair(previous.addresses[0], parsed[0])
                {
                    monitors[monitors.count - 1] = merged
                    lastWasLoose = false
                    continue
                }
                monitors.append(try CephMonitor(parsed))
                lastWasLoose = parsed.count == 1
            }
        }
        guard !monitors.isEmpty else {
            throw TetherError.invalidInput("no monitor addresses", hint: CephMonitorAddress.monitorHint)
        }
        return monitors
    }

    /// One monitor from a v2 and a v1 address on one host, nil for anything else.
    private static func pair(_ first: CephMonitorAddress, _ second: CephMonitorAddress) -> CephMonitor? {
        let kinds = Set([first.messenger, second.messenger])
        guard kinds == [.v1, .v2], first.portal.host.lowercased() == second.portal.host.lowercased() else { return nil }
        return try? CephMonitor([first, second])
    }

    /// Splits at `,`, `;` and blanks outside brackets, as Ceph's `parse_ip_port_vec` does.
    private static func tokens(of text: String) -> [Substring] {
        var tokens: [Substring] = []
        var depth = 0
        var start = text.startIndex
        for index in text.indices {
            switch text[index] {
            case "[": depth += 1
            case "]": depth -= 1
            case ",", ";", " ", "\t", "\n":
                guard depth == 0 else { break }
                if start < index { tokens.append(text[start..<index]) }
                start = text.index(after: index)
            default: break
            }
        }
        if start < text.endIndex { tokens.append(text[start...]) }
        return tokens
    }

    /// The inside of `[...]` when `token` is a bracketed list, nil when it is one address
    /// (an IPv6 literal is bracketed too: `[2001:db8::1]:6789`; Ceph tells them apart the same way).
    private static func vectorBody(_ token: Substring) -> Substring? {
        guard token.hasPrefix("["), token.hasSuffix("]"), token.count >= 2 else { return nil }
        let inner = token.dropFirst().dropLast()
        let isIPv6 = inner.filter { $0 == ":" }.count >= 2 && inner.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        return isIPv6 ? nil : inner
    }
}
