/// An iSCSI portal or a monitor address: host and TCP port.
///
/// Reads `host`, `host:port`, `[v6]:port` and open-iscsi's `host:port,tpgt`.
public struct Portal: Sendable, Hashable, Codable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(parsing text: String, defaultPort: Int = 3260) throws {
        var rest = Substring(text.trimmingWhitespace())
        if let comma = rest.firstIndex(of: ",") {
            rest = rest[..<comma]
        }
        guard !rest.isEmpty else {
            throw TetherError.invalidInput("empty portal address", hint: "write portals as host:port, e.g. 192.0.2.10:3260")
        }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw TetherError.invalidInput("portal \"\(text)\" has an unclosed IPv6 bracket")
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw TetherError.invalidInput("portal \"\(text)\" has text after the IPv6 address")
            }
        } else if rest.filter({ $0 == ":" }).count == 1, let colon = rest.firstIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        var port = defaultPort
        if let portText {
            guard let parsed = Int(portText), (1...65535).contains(parsed) else {
                throw TetherError.invalidInput("portal \"\(text)\" has no valid port", hint: "ports are 1-65535")
            }
            port = parsed
        }
        guard !host.isEmpty else {
            throw TetherError.invalidInput("portal \"\(text)\" has no host")
        }
        self.init(host: String(host), port: port)
    }

    /// `host:port`, with IPv6 hosts in brackets.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
