import TetherCore

/// One address of a Ceph monitor and the messenger protocol spoken there.
public struct CephMonitorAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Messenger: String, Sendable, Hashable {
        /// msgr2; Ceph's default port is 3300.
        case v2
        /// The legacy protocol; default port 6789. Cinder's `hosts` and `ports` list these.
        case v1
        /// Written without `v1:`/`v2:` on a port that implies neither; Ceph tries both protocols there.
        case either
    }

    public var messenger: Messenger
    public var portal: Portal

    public init(_ messenger: Messenger, _ portal: Portal) {
        self.messenger = messenger
        self.portal = portal
    }

    /// Ceph's syntax: `v2:10.0.0.1:3300`, `v1:[2001:db8::1]:6789`, or `10.0.0.1:7000` for `.either`.
    public var description: String {
        messenger == .either ? portal.description : "\(messenger.rawValue):\(portal)"
    }

    /// Ceph's default ports (`CEPH_MON_PORT_IANA`, `CEPH_MON_PORT_LEGACY`).
    static let v2Port = 3300
    static let v1Port = 6789

    /// Reads one address as Ceph's `mon_host` writes it: `v2:host:port`, `v1:host`, `host:port`,
    /// `host`, `[v6]:port`, with an optional `/nonce` as `ceph mon dump` prints it.
    ///
    /// An address without `v1:`/`v2:` follows Ceph's `MonMap::_add_ambiguous_addr`: port 6789 is v1,
    /// 3300 is v2, no port means both (v2:3300 and v1:6789), any other port is `.either`.
    static func parse(_ text: Substring) throws -> [CephMonitorAddress] {
        var rest = text
        if let slash = rest.lastIndex(of: "/") {
            guard rest[rest.index(after: slash)...].allSatisfy(\.isNumber) else {
                throw TetherError.invalidInput("monitor address \"\(text)\" has text after / that is not a nonce")
            }
            rest = rest[..<slash]
        }
        var messenger: Messenger?
        for (prefix, kind) in [("v2:", Messenger.v2), ("v1:", .v1), ("any:", .either)] where rest.hasPrefix(prefix) {
            rest = rest.dropFirst(prefix.count)
            messenger = kind == .either ? nil : kind
            break
        }
        guard !rest.isEmpty else {
            throw TetherError.invalidInput("monitor address \"\(text)\" has no host", hint: monitorHint)
        }
        // Port 0 stands for "not written": Portal(parsing:) rejects an explicit 0.
        let portal: Portal
        do {
            portal = try Portal(parsing: String(rest), defaultPort: 0)
        } catch let error as TetherError {
            throw TetherError.invalidInput("monitor address \"\(text)\": \(error.message)", hint: monitorHint)
        }
        guard portal.host.allSatisfy({ $0.isLetter || $0.isNumber || ".:-_%".contains($0) }) else {
            throw TetherError.invalidInput("monitor address \"\(text)\" has a host with characters that are not in a name or an IP address", hint: monitorHint)
        }
        func at(_ port: Int) -> Portal { Portal(host: portal.host, port: port) }
        switch (messenger, portal.port) {
        case (.v2?, 0): return [CephMonitorAddress(.v2, at(v2Port))]
        case (.v1?, 0): return [CephMonitorAddress(.v1, at(v1Port))]
        case (let messenger?, _): return [CephMonitorAddress(messenger, portal)]
        case (nil, v1Port): return [CephMonitorAddress(.v1, portal)]
        case (nil, v2Port): return [CephMonitorAddress(.v2, portal)]
        case (nil, 0): return [CephMonitorAddress(.v2, at(v2Port)), CephMonitorAddress(.v1, at(v1Port))]
        case (nil, _): return [CephMonitorAddress(.either, portal)]
        }
    }

    static let monitorHint = "write monitors as Ceph does: v2:10.0.0.1:3300, v1:10.0.0.1:6789, 10.0.0.1:6789, or [v2:10.0.0.1:3300,v1:10.0.0.1:6789]"
}

extension Portal {
    /// Monitor addresses compare by host, ignoring case (IPv6, names), and port.
    func sameAddress(as other: Portal) -> Bool {
        port == other.port && host.lowercased() == other.host.lowercased()
    }
}
