import Foundation

/// One HTTP/1.1 request as `UnixHTTPClient` sends it.
public struct HTTPRequest: Sendable, Hashable {
    public var method: String
    /// The request target: an absolute path and query, already percent-encoded.
    public var target: String
    /// A JSON body, or nil for none.
    public var body: Data?

    public init(method: String, target: String, body: Data? = nil) {
        self.method = method
        self.target = target
        self.body = body
    }

    /// The bytes on the wire.
    ///
    /// Every request asks the server to close the connection, so the client never has to
    /// manage keep-alive and a response always ends by the time the socket does.
    public func serialized() -> [UInt8] {
        var head = "\(method) \(target) HTTP/1.1\r\n"
        head += "Host: localhost\r\n"
        head += "User-Agent: tether\r\n"
        head += "Accept: application/json\r\n"
        head += "Connection: close\r\n"
        if body != nil {
            head += "Content-Type: application/json\r\n"
        }
        head += "Content-Length: \(body?.count ?? 0)\r\n\r\n"
        return Array(head.utf8) + (body.map(Array.init) ?? [])
    }
}
