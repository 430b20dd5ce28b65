import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import TetherAPI
import TetherCore

/// Answers broken HTTP/1.1 framing (garbage request line, bad chunk sizes, header floods, a
/// connection that ends mid-request) with Tether's 400 error body instead of Hummingbird's bare
/// one, closes a connection once a response that says `Connection: close` is out, and never
/// drains more than the body limit of a request its route did not read.
///
/// Sits after the HTTP decoder, so it sees the decoder's errors and every request and response
/// part. A framing error while a route may be reading the body goes to that route (JSONBody
/// turns it into a 400); one inside a request already answered only closes the connection; any
/// other is answered here, after the responses still owed. Either way the connection closes
/// then: after a framing error nothing more on it can be trusted.
final class HTTPFramingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let logger: Logger
    /// A request head was read and its end not yet.
    private var requestOpen = false
    /// Body bytes of the open request so far.
    private var bodyBytes = 0
    /// Requests read minus responses finished.
    private var responsesOwed = 0
    private var closeAfterResponse = false
    /// A framing error to answer once the responses owed are out.
    private var pendingError: TetherError?
    private var closed = false

    init(logger: Logger) {
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closed else { return }
        switch unwrapInboundIn(data) {
        case .head:
            requestOpen = true
            bodyBytes = 0
            responsesOwed += 1
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
            // A route that reads the body answers 413 at the limit; one that does not would
            // have the rest drained, however large: once answered, such a connection ends.
            if bodyBytes > JSONBody.maximumSize {
                closeAfterResponse = true
                if responsesOwed <= 0 {
                    closed = true
                    context.close(promise: nil)
                    return
                }
            }
        case .end:
            requestOpen = false
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let framing = Self.framingError(error) else {
            context.fireErrorCaught(error)
            return
        }
        // The decoder reports every later byte as another error: the first one decides.
        guard !closed, pendingError == nil, !closeAfterResponse else { return }
        logger.notice("malformed HTTP request", metadata: ["error": "\(error)"])
        closeAfterResponse = true
        switch (requestOpen, responsesOwed > 0) {
        case (true, true):
            // The route may be reading this body: its error becomes the answer.
            context.fireErrorCaught(error)
        case (true, false):
            // This request has its answer already; a second one would confuse the client.
            closed = true
            context.close(promise: nil)
        case (false, true):
            pendingError = framing
        case (false, false):
            answer(context, framing)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !closed else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let part = unwrapOutboundIn(data)
        if case .head(var head) = part {
            if head.headerFields[.connection]?.lowercased() == "close" {
                closeAfterResponse = true
            } else if closeAfterResponse {
                // Say so when this answer will be the connection's last.
                head.headerFields[.connection] = "close"
                context.write(wrapOutboundOut(.head(head)), promise: promise)
                return
            }
        }
        context.write(data, promise: promise)
        guard case .end = part else { return }
        responsesOwed -= 1
        guard responsesOwed <= 0 else { return }
        if let pendingError {
            answer(context, pendingError)
        } else if closeAfterResponse {
            closed = true
            context.flush()
            context.close(promise: nil)
        }
    }

    /// Writes Tether's error body for `error` and closes the connection.
    private func answer(_ context: ChannelHandlerContext, _ error: TetherError) {
        closed = true
        pendingError = nil
        let body = (try? JSONBody.encode(ErrorBody(error))) ?? Data()  // ErrorBody is strings only: it always encodes
        let head = HTTPResponse(
            status: .init(code: error.code.httpStatus),
            headerFields: [.contentType: "application/json", .contentLength: "\(body.count)", .connection: "close"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(ByteBuffer(bytes: body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.close(promise: nil)
    }

    /// Tether's error for a decoder error, nil for any other error.
    static func framingError(_ error: any Error) -> TetherError? {
        switch error {
        case let error as HTTPParserError:
            JSONBody.malformed(error)
        case is ByteToMessageDecoderError:
            JSONBody.malformed(.unknown)
        default:
            nil
        }
    }
}
