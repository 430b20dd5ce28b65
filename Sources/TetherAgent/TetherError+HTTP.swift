import Foundation
import Hummingbird
import TetherAPI
import TetherCore

/// `TetherError` on the wire: the status from its code, `{"error": {"code", "message", "hint"}}`.
/// The cause stays in the logs.
extension TetherError: HTTPResponseError {
    public var status: HTTPResponse.Status {
        HTTPResponse.Status(code: code.httpStatus)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try JSONBody.response(ErrorBody(self), status: status)
    }
}

/// JSON request and response bodies with Tether's error for anything malformed.
enum JSONBody {
    static let maximumSize = 4 << 20

    static func decode<Value: Decodable>(_ type: Value.Type, from request: Request, what: String) async throws -> Value {
        var request = request
        let buffer = try await request.collectBody(upTo: maximumSize)
        let bytes = Array(buffer.readableBytesView)
        guard !bytes.isEmpty else {
            throw TetherError.invalidInput("the request has no body", hint: "send \(what) as JSON")
        }
        do {
            return try JSONDecoder().decode(Value.self, from: Data(bytes))
        } catch let error as TetherError {
            throw error
        } catch let error as DecodingError {
            throw TetherError.invalidInput("\(what) is not valid: \(describe(error))", hint: "see README.md, section API")
        }
    }

    static func response<Value: Encodable>(_ value: Value, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes = try encoder.encode(value)
        bytes.append(0x0a)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "" : " at \(keys.joined(separator: "."))"
        }
        switch error {
        case .dataCorrupted(let context):
            return "malformed JSON\(path(context))"
        case .keyNotFound(let key, let context):
            return "missing \"\(key.stringValue)\"\(path(context))"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return "expected \(type)\(path(context))"
        @unknown default:
            return "\(error)"
        }
    }
}

/// Turns every error that is not a `TetherError` into one: Hummingbird's own (unknown route,
/// body too large) keep their status; anything else is a 500 whose details only the log sees.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as TetherError {
            context.logger.notice("request failed", metadata: ["code": "\(error.code)", "error": "\(error.message)", "path": "\(request.uri.path)"])
            throw error
        } catch let error as HTTPError {
            let code: TetherError.Code = error.status == .notFound ? .notFound : error.status.code < 500 ? .invalidInput : .internalError
            throw TetherError(code, error.body ?? "\(error.status.reasonPhrase) for \(request.method) \(request.uri.path)")
        } catch {
            context.logger.error("internal error", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            throw TetherError(.internalError, "internal error", hint: "see tetherd's log")
        }
    }
}
