import Foundation
import TetherAPI
import TetherCore

/// One call of tetherd's API: the request, and the type its 2xx answer decodes to.
public struct AgentEndpoint<Response: Decodable>: Sendable, CustomStringConvertible {
    public var method: String
    /// Path and query, percent-encoded.
    public var target: String
    public var body: Data?

    public init(method: String, target: String, body: Data? = nil) {
        self.method = method
        self.target = target
        self.body = body
    }

    public init(method: String, target: String, json body: some Encodable) throws {
        self.init(method: method, target: target, body: try JSONEncoder().encode(body))
    }

    public var request: HTTPRequest { HTTPRequest(method: method, target: target, body: body) }

    /// `GET /v1/health`, for messages.
    public var description: String { "\(method) \(target.prefix { $0 != "?" })" }
}

extension AgentEndpoint where Response == HealthBody {
    public static var health: Self { Self(method: "GET", target: "/v1/health") }
}

extension AgentEndpoint where Response == ConnectorProperties {
    public static var connector: Self { Self(method: "GET", target: "/v1/connector") }
}

extension AgentEndpoint where Response == AttachmentBody {
    /// Answers 201 when it attached, 200 when the volume was already attached.
    public static func attach(_ request: CreateAttachmentRequest) throws -> Self {
        try Self(method: "POST", target: "/v1/attachments", json: request)
    }

    /// Rescans the attachment's device(s) and answers it with its new size.
    public static func extend(_ ref: String) -> Self {
        Self(method: "POST", target: "/v1/attachments/\(percentEncoded(ref))/extend")
    }

    /// `ref` is an attachment id or a volume id.
    public static func attachment(_ ref: String) -> Self {
        Self(method: "GET", target: "/v1/attachments/\(percentEncoded(ref))")
    }
}

extension AgentEndpoint where Response == AttachmentList {
    public static var attachments: Self { Self(method: "GET", target: "/v1/attachments") }
}

extension AgentEndpoint where Response == DetachResponse {
    /// `ref` is an attachment id or a volume id. Detaching what is not attached answers an empty list.
    public static func detach(_ ref: String, force: Bool) -> Self {
        Self(method: "DELETE", target: "/v1/attachments/\(percentEncoded(ref))?force=\(force)")
    }
}

extension AgentEndpoint where Response == ExportResponse {
    /// Answers 201 when it exported, 200 when the export already existed.
    public static func createExport(_ request: CreateExportRequest) throws -> Self {
        try Self(method: "POST", target: "/v1/exports", json: request)
    }
}

extension AgentEndpoint where Response == ExportList {
    public static var exports: Self { Self(method: "GET", target: "/v1/exports") }
}

extension AgentEndpoint where Response == ExportDeletion {
    /// Revokes `initiator`'s access, or removes the whole export when `initiator` is nil.
    public static func deleteExport(volumeID: String, initiator: String? = nil) -> Self {
        var target = "/v1/exports/\(percentEncoded(volumeID))"
        if let initiator {
            target += "?initiator=\(percentEncoded(initiator))"
        }
        return Self(method: "DELETE", target: target)
    }
}

/// `text` with everything but RFC 3986's unreserved characters percent-encoded, fit for a path
/// segment or a query value (IQNs have ':', volume names may have '/').
func percentEncoded(_ text: String) -> String {
    var unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    unreserved.insert(charactersIn: "-._~")
    return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
}
