import Foundation
import TetherCore

/// A 2xx answer of tetherd: its status and JSON body, decoded on demand so `--json` can print
/// the body as the agent sent it.
public struct AgentReply<Value: Decodable>: Sendable {
    public var endpoint: AgentEndpoint<Value>
    public var status: Int
    public var body: Data

    public init(endpoint: AgentEndpoint<Value>, status: Int, body: Data) {
        self.endpoint = endpoint
        self.status = status
        self.body = body
    }

    /// True for 201 Created: the call made something rather than finding it already there.
    public var created: Bool { status == 201 }

    /// The body decoded.
    /// - Throws: `TetherError` with code `.internalError` when it is not a `Value`.
    public func value() throws -> Value {
        do {
            return try JSONDecoder().decode(Value.self, from: body)
        } catch let error as TetherError {
            throw TetherError(
                .internalError, "tetherd's answer to \(endpoint) does not fit: \(error.message)",
                hint: "tether and tetherd may be different versions", cause: error)
        } catch {
            throw TetherError(
                .internalError, "tetherd's answer to \(endpoint) is not a \(Value.self): \(error)",
                hint: "tether and tetherd may be different versions", cause: error)
        }
    }
}
