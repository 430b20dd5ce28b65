import Foundation

/// One HTTP/1.1 response as `UnixHTTPClient` read it.
public struct HTTPResponse: Sendable, Hashable {
    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public var status: Int
    public var reason: String
    public var headers: [Header]
    /// The body with any transfer coding removed.
    public var body: Data

    public init(status: Int, reason: String = "", headers: [Header] = [], body: Data = Data()) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
    }

    /// The value of the first header called `name`, compared without case as HTTP requires.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public var isSuccess: Bool { (200..<300).contains(status) }
}
