import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import TetherAPI
import TetherCore

/// `TetherError` on the wire: the status from its code, `{"error": {"code", "message", "hint"}}`.
/// The cause stays in the logs.
extension TetherError: HTTPResponseError {
    public var status: HTTPResponse.Status {
        HTTPResponse.Status(code: code.httpStatus)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try JSONBody.response(ErrorBody(self), status: status)
        // The rest of an oversized or stalled request is not worth reading: HTTPFramingHandler
        // closes the connection once this answer is out.
        if code == .bodyTooLarge || code == .requestTimedOut {
            response.headers[.connection] = "close"
        }
        return response
    }
}

/// An error nobody expected: a 500 whose details only the log has, under an id the answer gives.
struct InternalFailure: HTTPResponseError {
    /// 12 random hex digits, in the answer and in the log line.
    let id: String

    init(id: String = InternalFailure.newID()) {
        self.id = id
    }

    static func newID() -> String {
        (0..<6).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    var error: TetherError {
        TetherError(.internalError, "internal error \(id)", hint: "tetherd's log has the details under error_id=\(id)")
    }

    var status: HTTPResponse.Status { .internalServerError }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try JSONBody.response(ErrorBody(error, id: id), status: status)
    }
}

/// JSON request and response bodies with Tether's error for anything malformed.
enum JSONBody {
    /// The largest request body the agent reads (README.md, section API); more answers 413.
    static let maximumSize = 1 << 20
    /// How long a request body may take to arrive, so a client trickling bytes cannot hold a
    /// handler forever (the idle timeout only bounds the gaps between them).
    static let deadline: Duration = .seconds(30)

    static func decode<Value: Decodable>(_ type: Value.Type, from request: Request, what: String) async throws -> Value {
        let bytes = try await body(of: request, what: what)
        do {
            return try JSONDecoder().decode(Value.self, from: Data(bytes))
        } catch let error as TetherError {
            throw error
        } catch let error as DecodingError {
            throw TetherError.invalidInput("\(what) is not valid: \(describe(error))", hint: "see README.md, section API")
        }
    }

    /// Like `decode`, for a request whose body is optional: nil when none was sent.
    static func decodeIfPresent<Value: Decodable>(_ type: Value.Type, from request: Request, what: String) async throws -> Value? {
        let length = request.headers[.contentLength].flatMap { Int($0) } ?? 0
        guard length > 0 || request.headers[.transferEncoding] != nil else { return nil }
        return try await decode(type, from: request, what: what)
    }

    /// The whole body of a JSON request, within the size limit and the deadline.
    static func body(of request: Request, what: String, deadline: Duration = Self.deadline) async throws -> [UInt8] {
        let length = request.headers[.contentLength]
        let chunked = request.headers[.transferEncoding] != nil
        if let length, let size = Int(length), size > maximumSize {
            throw tooLarge()
        }
        guard chunked || (length.flatMap { Int($0) } ?? 0) > 0 else {
            throw TetherError.invalidInput("the request has no body", hint: "send \(what) as JSON")
        }
        guard isJSON(request.headers[.contentType]) else {
            throw TetherError(
                .unsupportedMediaType, "the request body is \(request.headers[.contentType].map { "\"\($0)\"" } ?? "untyped"), not application/json",
                hint: "send Content-Type: application/json")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await withTimeout(deadline, clock: ContinuousClock(), "reading the request body") {
                var request = request
                return try await request.collectBody(upTo: maximumSize)
            }
        } catch is NIOTooManyBytesError {
            throw tooLarge()
        } catch let error as HTTPParserError {
            throw malformed(error)
        } catch let error as TetherError where error.code == .timedOut {
            throw TetherError(
                .requestTimedOut, "the request body did not arrive within \(deadline)", hint: "send the whole body at once")
        }
        let bytes = Array(buffer.readableBytesView)
        guard !bytes.isEmpty else {
            throw TetherError.invalidInput("the request has no body", hint: "send \(what) as JSON")
        }
        return bytes
    }

    /// `application/json`, with or without parameters such as `charset=utf-8`.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces)
        return mediaType.lowercased() == "application/json"
    }

    static func tooLarge() -> TetherError {
        TetherError(
            .bodyTooLarge, "the request body is larger than \(maximumSize) bytes",
            hint: "no Tether request needs more; check what is being sent")
    }

    /// A request whose HTTP/1.1 framing (request line, headers, chunks, length) is broken.
    static func malformed(_ error: HTTPParserError) -> TetherError {
        let what =
            switch error {
            case .headerOverflow: "its headers are larger than the agent accepts"
            case .invalidEOFState: "the connection ended in the middle of it"
            case .invalidChunkSize: "a chunk size of its body is not valid"
            case .invalidContentLength, .unexpectedContentLength: "its Content-Length is not valid"
            default: "it is not well-formed HTTP/1.1 (\(error.debugDescription))"
            }
        return TetherError.invalidInput("the request was refused: \(what)", hint: "send well-formed HTTP/1.1; README.md, section API, lists the limits")
    }

    static func response<Value: Encodable>(_ value: Value, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encode(value))))
    }

    /// Sorted keys and a final newline, as every answer of the agent; without the newline for
    /// a part of an answer (an element of a list put together from cached parts).
    static func encode<Value: Encodable>(_ value: Value, finalNewline: Bool = true) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes = try encoder.encode(value)
        if finalNewline { bytes.append(0x0a) }
        return bytes
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
/// body too large) keep their status; anything else is a 500 with an error id, whose details
/// only the log sees.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            throw Self.translate(error, method: "\(request.method)", path: request.uri.path, logger: context.logger)
        }
    }

    /// What the client is answered for `error`, logged once here.
    static func translate(_ error: any Error, method: String, path: String, logger: Logger) -> any Error {
        switch error {
        case let error as TetherError:
            logger.notice("request failed", metadata: ["code": "\(error.code)", "error": "\(error.message)", "path": "\(path)"])
            return error
        case is NIOTooManyBytesError:
            return JSONBody.tooLarge()
        case let error as HTTPParserError:
            return JSONBody.malformed(error)
        case let error as HTTPError:
            let code: TetherError.Code =
                switch error.status {
                case .notFound: .notFound
                case .contentTooLarge: .bodyTooLarge
                case .unsupportedMediaType: .unsupportedMediaType
                case let status where status.code < 500: .invalidInput
                default: .internalError
                }
            if code == .internalError { return internalFailure(error, method: method, path: path, logger: logger) }
            return TetherError(code, error.body ?? "\(error.status.reasonPhrase) for \(method) \(path)")
        default:
            return internalFailure(error, method: method, path: path, logger: logger)
        }
    }

    static func internalFailure(_ error: any Error, method: String, path: String, logger: Logger) -> InternalFailure {
        let failure = InternalFailure()
        logger.error("internal error", metadata: ["error_id": "\(failure.id)", "error": "\(error)", "method": "\(method)", "path": "\(path)"])
        return failure
    }
}
