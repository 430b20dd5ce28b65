import Foundation
import TetherAPI
import TetherCore

/// tetherd's API over its unix socket, or a remote agent's TLS listener.
///
/// Every call throws the agent's own `TetherError` for a non-2xx answer.
public struct TetherAgentClient: Sendable {
    /// Where the agent listens unless told otherwise.
    public static let defaultSocketPath = "/run/tether/tetherd.sock"

    public var http: any AgentTransport
    /// Where the progress line goes (a terminal); nil: no progress line.
    public var progress: (@Sendable (String) -> Void)?

    public init(
        socketPath: String = Self.defaultSocketPath, timeout: Duration = UnixHTTPClient.defaultTimeout,
        progress: (@Sendable (String) -> Void)? = nil
    ) {
        http = UnixHTTPClient(socketPath: socketPath, timeout: timeout)
        self.progress = progress
    }

    /// A client of the agent `transport` reaches (a remote one: `TLSHTTPClient`).
    public init(transport: any AgentTransport, progress: (@Sendable (String) -> Void)? = nil) {
        http = transport
        self.progress = progress
    }

    /// Calls `endpoint` and returns the raw 2xx answer, drawing the progress line with `progress`
    /// when it is set and the answer takes a while.
    /// - Throws: the `TetherError` of the agent's error body, or one from `UnixHTTPClient`; when
    ///   tetherd does not answer within `http.timeout`, `timed_out` naming the endpoint's
    ///   activity and the command that shows whether it happened after all.
    public func reply<Value>(_ endpoint: AgentEndpoint<Value>) async throws -> AgentReply<Value> {
        let response: HTTPResponse
        do {
            if let progress {
                response = try await ProgressLine(endpoint.wait.activity, write: progress).showing { try await http.send(endpoint.request) }
            } else {
                response = try await http.send(endpoint.request)
            }
        } catch let error as TetherError where error.code == .timedOut {
            throw TetherError.agentTimedOut(endpoint.wait, after: http.timeout, cause: error)
        }
        try Self.check(response)
        return AgentReply(endpoint: endpoint, status: response.status, body: response.body)
    }

    /// Calls `endpoint` and decodes its answer.
    public func send<Value>(_ endpoint: AgentEndpoint<Value>) async throws -> Value {
        try await reply(endpoint).value()
    }

    /// Throws the error a non-2xx `response` carries.
    public static func check(_ response: HTTPResponse) throws {
        guard !response.isSuccess else { return }
        guard let body = try? JSONDecoder().decode(ErrorBody.self, from: response.body) else {
            throw TetherError.unexpectedAnswer(response)
        }
        var error = body.tetherError
        error.cause = AgentErrorAnswer(body: body)
        throw error
    }
}

extension TetherAgentClient {
    public func health() async throws -> HealthBody {
        try await send(.health)
    }

    public func connector() async throws -> ConnectorProperties {
        try await send(.connector)
    }

    /// Attaches a volume; `created` is false when it was already attached.
    public func attach(_ request: CreateAttachmentRequest) async throws -> (attachment: AttachmentBody, created: Bool) {
        let reply = try await reply(.attach(request))
        return (try reply.value(), reply.created)
    }

    public func attachments() async throws -> [AttachmentBody] {
        try await send(.attachments).attachments
    }

    /// The attachment with id `ref`, or the one of volume `ref`.
    public func attachment(_ ref: String) async throws -> AttachmentBody {
        try await send(.attachment(ref))
    }

    /// Detaches attachment or volume `ref`; the ids detached, none when nothing was attached.
    public func detach(_ ref: String, force: Bool = false) async throws -> DetachResponse {
        try await send(.detach(ref, force: force))
    }

    /// Exports a volume to a connector; `created` is false when the export already existed.
    public func createExport(_ request: CreateExportRequest) async throws -> (export: ExportResponse, created: Bool) {
        let reply = try await reply(.createExport(request))
        return (try reply.value(), reply.created)
    }

    public func exports() async throws -> [ExportBody] {
        try await send(.exports).exports
    }

    public func deleteExport(volumeID: String, initiator: String? = nil) async throws -> ExportDeletion {
        try await send(.deleteExport(volumeID: volumeID, initiator: initiator))
    }
}

/// The error body tetherd answered, kept as the cause of the `TetherError` made from it, so
/// `--json` prints it whole (an internal error's `id` included).
public struct AgentErrorAnswer: Error, Sendable {
    public var body: ErrorBody
}
