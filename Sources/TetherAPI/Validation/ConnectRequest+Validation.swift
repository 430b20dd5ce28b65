import TetherCore

extension ConnectRequest {
    public func validate() throws {
        _ = try StorageAgentURL(storage, field: "storage")
        // The storage node's own checks, run here first so nothing is journaled or asked of it
        // for a request it would refuse; the fields keep their names (`volume.id` ...).
        try CreateExportRequest(volume: volume, connector: ConnectorProperties()).validate()
    }
}

/// A storage node's agent as `connect` names it: `https://HOST[:PORT]` (port 8443 when absent),
/// HOST a DNS name, an IPv4 address or a bracketed IPv6 address. Nothing else: no user, path or
/// query, since the URL is journaled and shown.
public struct StorageAgentURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    /// - Throws: `invalid_input` naming `field`.
    public init(_ text: String, field: FieldPath) throws {
        try TextGrammar.check(text, field: field, maximumBytes: 300)
        let problem = TetherError.invalidField(
            field, "\"\(text)\" is not https://HOST[:PORT]", hint: "give the storage node's agent TLS listener, e.g. https://storage-1:8443")
        guard text.lowercased().hasPrefix("https://") else { throw problem }
        var rest = Substring(text.dropFirst("https://".count))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw problem }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw problem }
                portText = after.dropFirst()
            }
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { throw problem }
        } else {
            let parts = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            host = parts[0]
            portText = parts.count == 2 ? parts[1] : nil
            guard !host.isEmpty, host.count <= 253, host.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" || $0 == "." }) else { throw problem }
        }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else { throw problem }
            self.port = port
        } else {
            port = 8443
        }
        self.host = String(host)
    }

    /// The canonical form, as journaled.
    public var description: String { host.contains(":") ? "https://[\(host)]:\(port)" : "https://\(host):\(port)" }
}
